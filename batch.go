package busywork

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"

	dynamodbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/busywork/busywork/awsclient"
	"github.com/busywork/busywork/ddb"
	"github.com/busywork/busywork/groups"
	"github.com/busywork/busywork/internal/dlq"
	"github.com/busywork/busywork/jobs"
	"github.com/busywork/busywork/producer"
)

// FollowUpOverdue is how long after its last child a group's follow-up
// should have run: one that retries takes seconds to minutes. A group
// complete for longer, not followed up and with no stall recorded (a
// worker that died on a job's last receive records nothing) is shown with
// the advice to repair it.
const FollowUpOverdue = 15 * time.Minute

var batchCommand = &Command{
	Name:    "batch",
	Args:    "status [--json] GROUP_ID | repair GROUP_ID",
	Summary: "show a fan-out group's progress, or finish a stalled one",
	Run:     runBatch,
	Help: `batch status prints how far fan-out group GROUP_ID (package groups) has
come in one read: children done of the total, the children that failed
for good and why, whether its follow-up job was enqueued and has run,
and, when the group needs it, why it stalled and what to do. --json
prints the same for scripts.

batch repair enqueues the follow-up again when every child is done but
the follow-up has not run: it could not be enqueued on a child's last
receive, or it failed for good (fix the cause first). The follow-up runs
once however often it is enqueued, so a repair is safe to run twice and
beside '{name} dlq replay' of the group's dead letters. A group with
children not done is left to them: replay the failed ones' dead letters.

An unknown (or expired) group exits 1; a GROUP_ID no group can have (1 to
100 letters, digits, '-' and '_') exits 2.

Examples:
  {name} batch status order-42
  {name} batch repair order-42
`,
}

func runBatch(ctx context.Context, inv *Invocation) error {
	fs := flag.NewFlagSet("batch", flag.ContinueOnError)
	if err := inv.ParseFlags(fs, inv.Args); err != nil {
		return err
	}
	sub := fs.Arg(0)
	inv.Args = fs.Args()[min(1, fs.NArg()):]
	switch {
	case fs.NArg() == 0:
		return Usagef("missing subcommand status or repair")
	case sub == "status":
		return runBatchStatus(ctx, inv)
	case sub == "repair":
		return runBatchRepair(ctx, inv)
	}
	return Usagef("unknown subcommand %q (known: status, repair)", sub)
}

// groupArg parses a batch subcommand's flags and returns its one argument,
// GROUP_ID.
func groupArg(inv *Invocation, fs *flag.FlagSet) (string, error) {
	if err := inv.ParseFlags(fs, inv.Args); err != nil {
		return "", err
	}
	switch fs.NArg() {
	case 0:
		return "", Usagef("missing argument GROUP_ID")
	case 1:
	default:
		return "", Usagef("unexpected argument %q after GROUP_ID", fs.Arg(1))
	}
	id := fs.Arg(0)
	if err := jobs.ValidateGroupID(id); err != nil {
		return "", Usagef("%v", err)
	}
	return id, nil
}

// groupsFor returns the Groups of inv's table, sending with queue (nil to
// only read).
func groupsFor(ctx context.Context, inv *Invocation, queue groups.Sender) (*groups.Groups, string, error) {
	settings, err := inv.Settings()
	if err != nil {
		return nil, "", err
	}
	awsCfg, err := inv.AWS(ctx)
	if err != nil {
		return nil, "", err
	}
	return groups.New(ddb.New(awsclient.NewDynamoDB(awsCfg), settings.Table), queue, groups.Options{}), settings.Table, nil
}

// groupError adds a hint to an error reading group id from table: no such
// group, or no such table.
func groupError(inv *Invocation, err error, id, table string) error {
	if errors.Is(err, ddb.ErrNotFound) {
		return fmt.Errorf("no group %s in table %s (a group shows once its start has run; groups expire after their TTL)", id, table)
	}
	return tableError(inv, err, table)
}

// tableError adds a hint to err, from a request to table, when the table
// does not exist.
func tableError(inv *Invocation, err error, table string) error {
	var noTable *dynamodbtypes.ResourceNotFoundException
	if errors.As(err, &noTable) {
		return fmt.Errorf("table %s does not exist: run `%s bootstrap` to create it (%w)", table, inv.Name(), err)
	}
	return err
}

func runBatchStatus(ctx context.Context, inv *Invocation) error {
	fs := flag.NewFlagSet("batch status", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print JSON, for scripts")
	id, err := groupArg(inv, fs)
	if err != nil {
		return err
	}
	g, table, err := groupsFor(ctx, inv, nil)
	if err != nil {
		return err
	}
	b, err := g.Status(ctx, id)
	if err != nil {
		return groupError(inv, err, id, table)
	}
	st := newGroupStatus(b, time.Now(), inv.Name())
	if *asJSON {
		return json.NewEncoder(inv.Stdout).Encode(st)
	}
	return st.print(inv.Stdout)
}

// groupStatus is a group as batch status shows it.
type groupStatus struct {
	GroupID  string `json:"group_id"`
	Total    int    `json:"total"`
	Done     int    `json:"done"`
	Complete bool   `json:"complete"`
	// Failed maps a child that failed for good to why.
	Failed         map[int]string `json:"failed"`
	FollowUpType   string         `json:"follow_up_type,omitempty"`
	FollowUpSent   bool           `json:"follow_up_sent"`
	FollowUpRan    bool           `json:"follow_up_ran"`
	CreatedAt      time.Time      `json:"created_at"`
	CompletedAt    *time.Time     `json:"completed_at,omitempty"`
	FollowUpSentAt *time.Time     `json:"follow_up_sent_at,omitempty"`
	FollowUpRanAt  *time.Time     `json:"follow_up_ran_at,omitempty"`
	Stall          *groupStall    `json:"stalled,omitempty"`
	// Action says what an operator does to finish the group, when it
	// needs it.
	Action string `json:"action,omitempty"`
}

// groupStall is a ddb.Stall as batch status shows it.
type groupStall struct {
	Children       []int     `json:"children,omitempty"`
	FollowUpFailed bool      `json:"follow_up_failed,omitempty"`
	Reason         string    `json:"reason"`
	Since          time.Time `json:"since"`
}

func newGroupStatus(b ddb.Batch, now time.Time, name string) groupStatus {
	at := func(t time.Time) *time.Time {
		if t.IsZero() {
			return nil
		}
		return &t
	}
	st := groupStatus{
		GroupID: b.ID, Total: b.Total, Done: len(b.Done), Complete: b.Complete(), Failed: b.Failed,
		FollowUpSent: !b.FollowUpSentAt.IsZero(), FollowUpRan: b.Dispatched(),
		CreatedAt: b.CreatedAt, CompletedAt: at(b.CompletedAt), FollowUpSentAt: at(b.FollowUpSentAt), FollowUpRanAt: at(b.DispatchedAt),
	}
	if b.FollowUp != nil {
		st.FollowUpType = b.FollowUp.Type
	}
	if s := b.Stall; s != nil {
		st.Stall = &groupStall{Children: s.Children, FollowUpFailed: s.FollowUp, Reason: s.Reason, Since: s.At}
	}
	repair := fmt.Sprintf("`%s batch repair %s`", name, b.ID)
	switch {
	case st.FollowUpRan:
	case st.Stall != nil:
		st.Action = fmt.Sprintf("The follow-up has not run and no retry is coming. Fix the cause, then run %s, or replay "+
			"the group's dead letters (`%s dlq peek --lane all` finds them). It runs once, whichever you do, however often.", repair, name)
	case st.Complete && now.Sub(b.CompletedAt) > FollowUpOverdue:
		st.Action = fmt.Sprintf("Every child was done %s ago but the follow-up has not run, and no failure was recorded "+
			"(a worker may have died on a job's last receive). Unless a %s job %s still waits in its lane, run %s; it runs once.",
			now.Sub(b.CompletedAt).Round(time.Minute), st.FollowUpType, groups.FollowUpID(b.ID), repair)
	case len(st.Failed) > 0:
		st.Action = fmt.Sprintf("%d children failed for good. Fix the cause, then replay their dead letters "+
			"(`%s dlq peek --lane all` finds them; `%s dlq replay --lane LANE`): each counts once, and the follow-up runs once when the last is done.",
			len(st.Failed), name, name)
	}
	return st
}

// print writes st as a person reads it.
func (st groupStatus) print(w io.Writer) error {
	when := func(t *time.Time) string {
		if t == nil {
			return "no"
		}
		return t.UTC().Format(time.RFC3339)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "group      %s\ncreated    %s\nchildren   %d of %d done\ncomplete   %s\n",
		st.GroupID, st.CreatedAt.UTC().Format(time.RFC3339), st.Done, st.Total, when(st.CompletedAt))
	fmt.Fprintf(&b, "follow-up  %s: enqueued %s, ran %s\n", dlq.Escaped(st.FollowUpType), when(st.FollowUpSentAt), when(st.FollowUpRanAt))
	if len(st.Failed) > 0 {
		fmt.Fprintf(&b, "failed     %d children\n", len(st.Failed))
		for _, n := range slices.Sorted(maps.Keys(st.Failed)) {
			fmt.Fprintf(&b, "  child %d: %s\n", n, dlq.Escaped(st.Failed[n]))
		}
	}
	if s := st.Stall; s != nil {
		fmt.Fprintf(&b, "stalled    since %s: ", s.Since.UTC().Format(time.RFC3339))
		if s.FollowUpFailed {
			b.WriteString("the follow-up failed for good")
		} else {
			fmt.Fprintf(&b, "the follow-up could not be enqueued on the last receive of child %s", strings.Trim(fmt.Sprint(s.Children), "[]"))
		}
		fmt.Fprintf(&b, ": %s\n", dlq.Escaped(s.Reason))
	}
	if st.Action != "" {
		fmt.Fprintf(&b, "action     %s\n", st.Action)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// repairTimeout bounds a repair's send.
const repairTimeout = 30 * time.Second

func runBatchRepair(ctx context.Context, inv *Invocation) error {
	id, err := groupArg(inv, flag.NewFlagSet("batch repair", flag.ContinueOnError))
	if err != nil {
		return err
	}
	awsCfg, err := inv.AWS(ctx)
	if err != nil {
		return err
	}
	router, err := inv.Router(ctx, sqs.NewFromConfig(awsCfg), producer.WithTimeout(repairTimeout))
	if err != nil {
		return err
	}
	g, table, err := groupsFor(ctx, inv, router)
	if err != nil {
		return err
	}
	r, err := g.Repair(ctx, id)
	if err != nil {
		return groupError(inv, err, id, table)
	}
	b := r.Group
	var msg string
	switch {
	case b.Dispatched():
		msg = fmt.Sprintf("group %s: its follow-up ran already; nothing to do\n", id)
	case r.FollowUpSent:
		msg = fmt.Sprintf("group %s: every child is done; enqueued its follow-up (%s job %s, lane %s). It runs once, "+
			"also if another copy is on its way. Follow it with: %s batch status %s\n",
			id, b.FollowUp.Type, groups.FollowUpID(id), router.Lane(b.FollowUp.Type), inv.Name(), id)
	case len(b.Failed) > 0:
		msg = fmt.Sprintf("group %s: %d children failed for good; a repair cannot run them again. Fix the cause, then replay "+
			"their dead letters (%s dlq peek --lane all finds them); the follow-up runs once the last is done.\n", id, len(b.Failed), inv.Name())
	default:
		msg = fmt.Sprintf("group %s: %d of its %d children are still to run and none failed; nothing to repair.\n",
			id, b.Total-len(b.Done), b.Total)
	}
	_, err = io.WriteString(inv.Stdout, msg)
	return err
}
