package busywork

import (
	"context"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/busywork/busywork/producer"
)

// sendTimeout bounds a send across the SDK's retries; a person waits, not
// a web request.
const sendTimeout = 10 * time.Second

var sendCommand = &Command{
	Name:    "send",
	Args:    "[--delay D | --at TIME] TYPE JSON",
	Summary: "enqueue one job, validated, now or later; prints its job id",
	Run:     runSend,
	Help: `Enqueues one job of type TYPE whose fields are the JSON object JSON, after
checking it as the worker will (a type this binary has no handler for, a
field its job has not, or a job that does not validate exits 2 saying
why), and prints the job's id. ping is every binary's: a smoke test.

  --delay D    start the job no sooner than D from now: a Go duration
               (90s, 45m, 2h30m) or whole days (7d); 0 to 30d
  --at TIME    start it no sooner than TIME, in RFC 3339
               (2026-12-24T09:00:00Z); within 30 days from now. A time
               in the past, up to 30 days ago, sends it to run now

With --delay or --at the job's id is printed as usual and, on stderr, when
it is due. Until it starts, '{name} cancel JOB_ID' cancels it. The job waits
on its lane's queue in hops of up to 15 minutes (BUSYWORK_MAX_HOP), each an
SQS send and delete by a worker; it runs within about a second of its due
time when a worker serves its lane.

Job types: {types}

Examples:
  {name} send ping '{"message":"hello"}'
  {name} send ping '{"message":"load","work_ms":100}'   # the worker waits 100 ms
  {name} send --delay 2h ping '{"message":"later"}'
  {name} send --at 2026-12-24T09:00:00Z ping '{"message":"merry"}'

The job goes to its type's lane by the routing table (the binary's, with
BUSYWORK_ROUTES over it): the critical lane's queue (BUSYWORK_CRITICAL_QUEUE,
default busywork-critical), the bulk lane's (busywork-bulk), or the default
lane's (BUSYWORK_QUEUE, busywork-jobs). With BUSYWORK_SIGNING_KEY set the job
is signed. A delayed job is recorded in BUSYWORK_TABLE first.
`,
}

func runSend(ctx context.Context, inv *Invocation) error {
	fs := flag.NewFlagSet("send", flag.ContinueOnError)
	delay := fs.String("delay", "", "")
	at := fs.String("at", "", "")
	args, err := parseInterspersed(inv, fs)
	if err != nil {
		return err
	}
	switch len(args) {
	case 0:
		return Usagef("missing arguments TYPE and JSON")
	case 1:
		return Usagef("missing argument JSON (the job's fields, e.g. '{}')")
	case 2:
	default:
		return Usagef("unexpected argument %q after TYPE and JSON", args[2])
	}
	timing, err := timingOption(*delay, *at)
	if err != nil {
		return err
	}
	cfg, awsCfg, err := loadEnv(ctx)
	if err != nil {
		return err
	}
	known, err := inv.app.typesMux(cfg, awsCfg)
	if err != nil {
		return err
	}
	job, err := known.Parse(args[0], []byte(args[1]))
	if err != nil {
		return Usagef("%v", err)
	}
	routes, err := cfg.routes(inv.app, known.Types())
	if err != nil {
		return err
	}
	client := sqs.NewFromConfig(awsCfg)
	to, err := cfg.selectLanes(routes.Lane(job.Type()))
	if err != nil {
		return err
	}
	urls, err := resolveLanes(ctx, client, to, inv.Name())
	if err != nil {
		return err
	}
	var opts []producer.SendOption
	if timing != nil {
		opts = append(opts, timing)
	}
	now := time.Now()
	due, err := producer.Due(now, opts...)
	if err != nil {
		return Usagef("%v", err) // checked by timingOption; a clock that jumped
	}
	id, err := producer.New(client, urls[to[0].name], cfg.producerOptions(awsCfg, producer.WithTimeout(sendTimeout))...).Send(ctx, job, opts...)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintln(inv.Stdout, id); err != nil {
		return err
	}
	if timing != nil {
		_, err = fmt.Fprintf(inv.Stderr, "due %s (in %s); until it starts, cancel it with: %s cancel %s\n",
			due.UTC().Format(time.RFC3339), due.Sub(now).Round(time.Second), inv.Name(), id)
	}
	return err
}

// parseInterspersed parses fs's flags wherever they stand among the
// positional arguments of inv, which it returns: send TYPE JSON --delay 2h
// reads as send --delay 2h TYPE JSON.
func parseInterspersed(inv *Invocation, fs *flag.FlagSet) ([]string, error) {
	var args []string
	rest := inv.Args
	for {
		if err := inv.ParseFlags(fs, rest); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return args, nil
		}
		args = append(args, fs.Arg(0))
		rest = fs.Args()[1:]
	}
}

// timingOption returns the send option of the --delay and --at flags'
// values (nil for neither), or a usage error naming the flag.
func timingOption(delay, at string) (producer.SendOption, error) {
	var (
		opt  producer.SendOption
		name string // the flag and its value, for errors
	)
	switch {
	case delay != "" && at != "":
		return nil, Usagef("--delay and --at: give one, not both")
	case delay != "":
		d, err := parseDelay(delay)
		if err != nil {
			return nil, Usagef("--delay %s: %v", delay, err)
		}
		opt, name = producer.Delay(d), "--delay "+delay
	case at != "":
		t, err := time.Parse(time.RFC3339, at)
		if err != nil {
			return nil, Usagef("--at %s: not an RFC 3339 time such as 2026-12-24T09:00:00Z", at)
		}
		opt, name = producer.At(t), "--at "+at
	default:
		return nil, nil
	}
	if _, err := producer.Due(time.Now(), opt); err != nil {
		return nil, Usagef("%s: %v", name, err)
	}
	return opt, nil
}

// maxDays is the most days parseDelay reads without overflowing a
// time.Duration (about 292 years); more reads as that many, which is
// refused as out of range all the same.
const maxDays = 100_000

// parseDelay reads a Go duration (90s, 2h30m) or a whole number of days
// (7d).
func parseDelay(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil {
			return 0, fmt.Errorf("not a duration such as 90s, 2h30m or 7d")
		}
		return time.Duration(min(max(n, -maxDays), maxDays)) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("not a duration such as 90s, 2h30m or 7d")
	}
	return d, nil
}
