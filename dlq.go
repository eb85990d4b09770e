package busywork

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/busywork/busywork/internal/dlq"
	"github.com/busywork/busywork/producer"
)

var dlqCommand = &Command{
	Name:    "dlq",
	Args:    "stats|peek|replay|tasks [flags]",
	Summary: "inspect and replay dead letters",
	Run:     runDLQ,
	Help: `dlq works on the dead-letter queue of one lane: the queue the redrive policy
of the lane's queue names. --lane NAME picks the lane: critical (queue
BUSYWORK_CRITICAL_QUEUE, default busywork-critical), default (BUSYWORK_QUEUE,
default busywork-jobs; the default) or bulk (BUSYWORK_BULK_QUEUE, default
busywork-bulk), or the _QUEUE_URL variables; stats and peek also take
--lane all. Replay sends a dead letter back to its lane's queue.

  dlq stats [--lane NAME|all]
      counts the messages by job type and by error (errors that differ only
      in ids, numbers, addresses and quoted values are one row), and shows
      the age of the oldest and the total.
  dlq peek [--lane NAME|all] [--max N] [--type T] [--error TEXT] [--json]
      prints job_id, type, receive count, failed_at, error and body of up
      to N messages (default 10; per lane with --lane all) that match, as a
      table (long values cut) or, with --json, as whole JSON lines (with the
      DLQ's name as "queue"). Every message stays in the DLQ. Neither form
      prints a control character of a message raw: the table shows them as
      escapes (\r, \u009b, \u202e), the JSON as \u escapes.
  dlq replay [--lane NAME] [--type T] [--error TEXT] [--max N] [--rate R] [--dry-run]
      moves the matching messages (all by default, at most N) back to the
      queue, R messages a second (default 10, fractions allowed): each is
      sent before it is deleted from the DLQ, so a crash can duplicate a job
      but never lose one (handlers are idempotent by job id). The copy keeps
      the body, job_id and the job's attributes (signature too), drops error
      and failed_at, and adds replayed_at. Messages that do not match are
      released at once, untouched. A progress bar on a terminal, plain lines
      otherwise (on stderr), then a summary; exit 1 if any message failed to
      move. --dry-run reports what would move and changes nothing.
  dlq replay [--lane NAME] --native [--rate R]
      starts SQS's own message move task for the whole DLQ, to the queue, at
      R messages a second (1 to 500). No filters; new MessageIds. Endpoints
      without move tasks (the fauxqs emulator) refuse it: use the default mode.
  dlq tasks [--lane NAME] [--cancel]
      lists the DLQ's move tasks; --cancel cancels the running ones.

--type is a job type; --error matches when the error attribute holds TEXT,
in any case.

SQS has no peek: reading a message means receiving it (with a short
visibility timeout) and releasing it at once, which adds one to its receive
count. stats, peek, replay and --dry-run all read so. The DLQ has no
redrive policy of its own, so the count only informs.

Examples:
  {name} dlq stats --lane all
  {name} dlq peek --lane critical --type TYPE --error "rate exceeded"
  {name} dlq replay --lane critical --type TYPE --rate 5 --dry-run
  {name} dlq replay --lane critical --type TYPE --rate 5
`,
}

func runDLQ(ctx context.Context, inv *Invocation) error {
	fs := flag.NewFlagSet("dlq", flag.ContinueOnError)
	if err := inv.ParseFlags(fs, inv.Args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return Usagef("missing subcommand (stats, peek, replay or tasks)")
	}
	sub, rest := fs.Arg(0), fs.Args()[1:]
	run, ok := dlqSubcommands[sub]
	if !ok {
		return Usagef("unknown subcommand %q (known: stats, peek, replay, tasks)", sub)
	}
	inv.Args = rest
	return run(ctx, inv)
}

var dlqSubcommands = map[string]func(context.Context, *Invocation) error{
	"stats":  runDLQStats,
	"peek":   runDLQPeek,
	"replay": runDLQReplay,
	"tasks":  runDLQTasks,
}

// parseDLQFlags parses a dlq subcommand's flags; it takes no arguments.
func (inv *Invocation) parseDLQFlags(fs *flag.FlagSet) error {
	if err := inv.ParseFlags(fs, inv.Args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return Usagef("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// allLanes is the --lane value that names every lane.
const allLanes = "all"

// laneFlag defines --lane on fs.
func laneFlag(fs *flag.FlagSet) *string {
	return fs.String("lane", producer.LaneDefault, "the lane whose DLQ to work on")
}

// openDLQs opens the dead-letter queues of the lane --lane names, or of
// every lane for "all" where the command takes it: the one place the dlq
// commands choose their queues.
func openDLQs(ctx context.Context, bin, name string, takesAll bool) ([]*dlq.Queue, error) {
	if strings.Contains(name, ",") || (name == allLanes && !takesAll) {
		return nil, Usagef("--lane %s: want one lane (%s)", name, strings.Join(producer.Lanes(), ", "))
	}
	cfg, awsCfg, err := loadEnv(ctx)
	if err != nil {
		return nil, err
	}
	ls := cfg.lanes()
	if name != allLanes {
		if ls, err = cfg.selectLanes(name); err != nil {
			return nil, Usagef("--lane: %v", err)
		}
	}
	client := sqs.NewFromConfig(awsCfg)
	urls, err := resolveLanes(ctx, client, ls, bin)
	if err != nil {
		return nil, err
	}
	qs := make([]*dlq.Queue, len(ls))
	for i, l := range ls {
		q, err := dlq.Open(ctx, client, urls[l.name])
		var missing *types.QueueDoesNotExist
		if errors.As(err, &missing) {
			return nil, fmt.Errorf("lane %s: %w: run `busywork bootstrap` to create it", l.name, err)
		}
		if err != nil {
			return nil, fmt.Errorf("lane %s: %w", l.name, err)
		}
		qs[i] = q
	}
	return qs, nil
}

// openDLQ opens the dead-letter queue of the one lane --lane names.
func openDLQ(ctx context.Context, bin, name string) (*dlq.Queue, error) {
	qs, err := openDLQs(ctx, bin, name, false)
	if err != nil {
		return nil, err
	}
	return qs[0], nil
}

func runDLQStats(ctx context.Context, inv *Invocation) error {
	fs := flag.NewFlagSet("dlq stats", flag.ContinueOnError)
	lane := laneFlag(fs)
	if err := inv.parseDLQFlags(fs); err != nil {
		return err
	}
	qs, err := openDLQs(ctx, inv.Name(), *lane, true)
	if err != nil {
		return err
	}
	for i, q := range qs {
		st, err := q.Stats(ctx)
		if err != nil {
			return err
		}
		if i > 0 {
			fmt.Fprintln(inv.Stdout)
		}
		if err := st.Write(inv.Stdout); err != nil {
			return err
		}
	}
	return nil
}

func runDLQPeek(ctx context.Context, inv *Invocation) error {
	fs := flag.NewFlagSet("dlq peek", flag.ContinueOnError)
	lane := laneFlag(fs)
	max := fs.Int("max", dlq.DefaultPeekMax, "the most messages shown")
	filter := filterFlags(fs)
	asJSON := fs.Bool("json", false, "print JSON lines, whole")
	if err := inv.parseDLQFlags(fs); err != nil {
		return err
	}
	if *max < 1 {
		return Usagef("--max %d: want at least 1", *max)
	}
	qs, err := openDLQs(ctx, inv.Name(), *lane, true)
	if err != nil {
		return err
	}
	for i, q := range qs {
		letters, err := q.Peek(ctx, dlq.PeekOptions{Max: *max, Filter: *filter})
		if err != nil {
			return err
		}
		switch {
		case *asJSON:
			err = dlq.WriteJSON(inv.Stdout, letters)
		case len(qs) > 1:
			if i > 0 {
				fmt.Fprintln(inv.Stdout)
			}
			fmt.Fprintf(inv.Stdout, "%s:\n", q.DeadLetterName)
			fallthrough
		default:
			err = writeLetters(inv, q, letters)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// writeLetters prints letters as a table, or says that none matched.
func writeLetters(inv *Invocation, q *dlq.Queue, letters []*dlq.Letter) error {
	if len(letters) == 0 {
		_, err := fmt.Fprintf(inv.Stdout, "no matching messages in %s\n", q.DeadLetterName)
		return err
	}
	return dlq.WriteTable(inv.Stdout, letters)
}

// filterFlags defines --type and --error on fs.
func filterFlags(fs *flag.FlagSet) *dlq.Filter {
	f := new(dlq.Filter)
	fs.StringVar(&f.Type, "type", "", "only messages of this job type")
	fs.StringVar(&f.Error, "error", "", "only messages whose error holds this text, in any case")
	return f
}

func runDLQReplay(ctx context.Context, inv *Invocation) error {
	fs := flag.NewFlagSet("dlq replay", flag.ContinueOnError)
	lane := laneFlag(fs)
	filter := filterFlags(fs)
	max := fs.Int("max", 0, "the most messages moved (default all)")
	rate := fs.Float64("rate", dlq.DefaultRate, "messages sent a second")
	dryRun := fs.Bool("dry-run", false, "report what would move; change nothing")
	native := fs.Bool("native", false, "start SQS's own move task for the whole DLQ")
	if err := inv.parseDLQFlags(fs); err != nil {
		return err
	}
	set := make(map[string]bool)
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	switch {
	case !(*rate > 0) || math.IsInf(*rate, 0):
		return Usagef("--rate %v: want a number of messages a second above 0", *rate)
	case set["max"] && *max < 1:
		return Usagef("--max %d: want at least 1", *max)
	case *native && (set["type"] || set["error"] || set["max"] || set["dry-run"]):
		return Usagef("--native moves the whole DLQ: it takes no --type, --error, --max or --dry-run")
	case *native && (*rate != math.Trunc(*rate) || *rate > dlq.MaxMoveRate):
		return Usagef("--rate %v: --native wants a whole number of messages a second from 1 to %d", *rate, dlq.MaxMoveRate)
	}
	q, err := openDLQ(ctx, inv.Name(), *lane)
	if err != nil {
		return err
	}
	if *native {
		return startMove(ctx, q, inv, int(*rate))
	}
	p := newProgress(inv.Stderr, *dryRun)
	sum, err := q.Replay(ctx, dlq.ReplayOptions{Filter: *filter, Max: *max, Rate: *rate, DryRun: *dryRun, Progress: p.update})
	p.finish()
	if sum == nil {
		return err
	}
	if werr := writeSummary(inv, q, sum); werr != nil && err == nil {
		err = werr
	}
	switch {
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("interrupted: the messages not moved stay in %s", q.DeadLetterName)
	case err != nil:
		return err
	case len(sum.Failures) > 0:
		return fmt.Errorf("%d messages failed to move (listed above)", len(sum.Failures))
	case len(sum.Undeleted) > 0:
		return fmt.Errorf("%d messages moved but stay in %s too (listed above): replaying them again makes duplicates", len(sum.Undeleted), q.DeadLetterName)
	case sum.Unreleased > 0:
		return fmt.Errorf("SQS did not release %d messages: they are visible again when their visibility timeout ends", sum.Unreleased)
	}
	return nil
}

// writeSummary prints what a replay did on stdout, and the messages that
// failed on stderr.
func writeSummary(inv *Invocation, q *dlq.Queue, s *dlq.Summary) error {
	for _, f := range s.Failures {
		fmt.Fprintf(inv.Stderr, "not moved, still in %s: %s: %v\n", q.DeadLetterName, f.Letter, f.Err)
	}
	for _, f := range s.Undeleted {
		fmt.Fprintf(inv.Stderr, "moved, but still in %s too (its delete failed): %s: %v\n", q.DeadLetterName, f.Letter, f.Err)
	}
	var b strings.Builder
	if s.DryRun {
		fmt.Fprintf(&b, "dry run: would move %d messages from %s to %s; %d do not match. Nothing changed (each message read got one more receive).\n",
			s.Matched, q.DeadLetterName, q.Name, s.Skipped)
	} else {
		fmt.Fprintf(&b, "moved %d of %d matching messages from %s to %s in %s (%.1f a second); %d failed; %d did not match and stay.\n",
			s.Moved, s.Matched, q.DeadLetterName, q.Name, s.Elapsed.Round(time.Millisecond), perSecond(s.Moved, s.Elapsed), s.Failed, s.Skipped)
	}
	if _, err := fmt.Fprint(inv.Stdout, b.String()); err != nil || s.Matched == 0 {
		return err
	}
	return dlq.WriteCounts(inv.Stdout, s.Types, s.Errors)
}

func perSecond(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

func startMove(ctx context.Context, q *dlq.Queue, inv *Invocation, rate int) error {
	handle, err := q.StartMove(ctx, rate)
	if err != nil {
		return noMoveTasksHint(err)
	}
	_, err = fmt.Fprintf(inv.Stdout, "started a move task from %s to %s at %d messages a second: %s\n"+
		"Follow it with 'busywork dlq tasks'; stop it with 'busywork dlq tasks --cancel'.\n", q.DeadLetterName, q.Name, rate, handle)
	return err
}

// noMoveTasksHint points from an endpoint without move tasks to the
// default mode of dlq replay.
func noMoveTasksHint(err error) error {
	if errors.Is(err, dlq.ErrNoMoveTasks) {
		return fmt.Errorf("%w; run 'busywork dlq replay' without --native, which moves the messages itself", err)
	}
	return err
}

func runDLQTasks(ctx context.Context, inv *Invocation) error {
	fs := flag.NewFlagSet("dlq tasks", flag.ContinueOnError)
	lane := laneFlag(fs)
	cancel := fs.Bool("cancel", false, "cancel the running move tasks")
	if err := inv.parseDLQFlags(fs); err != nil {
		return err
	}
	q, err := openDLQ(ctx, inv.Name(), *lane)
	if err != nil {
		return err
	}
	list, verb := q.MoveTasks, "move tasks"
	if *cancel {
		list, verb = q.CancelMoveTasks, "running move tasks cancelled"
	}
	tasks, err := list(ctx)
	if err != nil {
		return noMoveTasksHint(err)
	}
	if len(tasks) == 0 {
		_, err = fmt.Fprintf(inv.Stdout, "no %s of %s\n", verb, q.DeadLetterName)
		return err
	}
	return dlq.WriteTasks(inv.Stdout, tasks)
}
