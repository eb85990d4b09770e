package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	dynamodbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/busywork/busywork"
	"github.com/busywork/busywork/awsclient"
	"github.com/busywork/busywork/ddb"
	"github.com/busywork/busywork/demo"
	"github.com/busywork/busywork/groups"
	"github.com/busywork/busywork/handlers"
	"github.com/busywork/busywork/internal/dlq"
	"github.com/busywork/busywork/producer"
)

var batchCommand = &busywork.Command{
	Name:    "batch",
	Args:    "status [--json] ORDER_ID | repair ORDER_ID",
	Summary: "show the progress of a ticket order, or finish a stalled one",
	Run:     runBatch,
	Help: `batch status prints how far ticket order ORDER_ID has come: tickets done of
the total, the tickets that failed and why, whether the tickets were
emailed, and, when the order needs it, why it stalled and what to do.
--json prints the same as GET /orders/ORDER_ID does.

batch repair finishes an order that no retry will finish:
  - every ticket is made but the tickets were not emailed (the dispatch could
    not be enqueued on a ticket's last receive, or the dispatch job itself
    failed for good): it enqueues the dispatch again;
  - some tickets failed for good: it enqueues their generate_ticket jobs
    again (fix the cause first); the order completes and is emailed.
It is safe to run twice, and beside 'busywork dlq replay' of the order's dead
letters: a ticket counts once and the tickets are emailed once, whichever
finishes the order. An order already emailed changes nothing.

An unknown order (or one no worker has taken yet) exits 1; an ORDER_ID no
order can have (order ids are 1 to 100 letters, digits, '-' and '_') exits 2.

Examples:
  busywork batch status 3b6yq5v7b4...
  busywork batch repair 3b6yq5v7b4...
`,
}

func runBatch(ctx context.Context, inv *busywork.Invocation) error {
	fs := flag.NewFlagSet("batch", flag.ContinueOnError)
	if err := inv.ParseFlags(fs, inv.Args); err != nil {
		return err
	}
	switch {
	case fs.NArg() == 0:
		return busywork.Usagef("missing subcommand status or repair")
	case fs.Arg(0) == "status":
		inv.Args = fs.Args()[1:]
		return runBatchStatus(ctx, inv)
	case fs.Arg(0) == "repair":
		inv.Args = fs.Args()[1:]
		return runBatchRepair(ctx, inv)
	}
	return busywork.Usagef("unknown subcommand %q (known: status, repair)", fs.Arg(0))
}

// orderArg parses a batch subcommand's flags and returns its one argument,
// ORDER_ID.
func orderArg(inv *busywork.Invocation, fs *flag.FlagSet) (string, error) {
	if err := inv.ParseFlags(fs, inv.Args); err != nil {
		return "", err
	}
	switch fs.NArg() {
	case 0:
		return "", busywork.Usagef("missing argument ORDER_ID")
	case 1:
	default:
		return "", busywork.Usagef("unexpected argument %q after ORDER_ID", fs.Arg(1))
	}
	id := fs.Arg(0)
	if err := demo.ValidateOrderID(id); err != nil {
		return "", busywork.Usagef("%v", err)
	}
	return id, nil
}

// storeError adds a hint to an error of the order's store: no such order,
// or no such table.
func storeError(err error, id, table string) error {
	if errors.Is(err, ddb.ErrNotFound) {
		return fmt.Errorf("no order %s in table %s (a new order shows once a worker has taken it)", id, table)
	}
	var noTable *dynamodbtypes.ResourceNotFoundException
	if errors.As(err, &noTable) {
		return fmt.Errorf("table %s does not exist: run `busywork bootstrap` to create it (%w)", table, err)
	}
	return err
}

func runBatchStatus(ctx context.Context, inv *busywork.Invocation) error {
	fs := flag.NewFlagSet("batch status", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print JSON, for scripts")
	id, err := orderArg(inv, fs)
	if err != nil {
		return err
	}
	settings, err := inv.Settings()
	if err != nil {
		return err
	}
	awsCfg, err := inv.AWS(ctx)
	if err != nil {
		return err
	}
	routes, err := inv.Routes(ctx)
	if err != nil {
		return err
	}
	st, err := ddb.New(awsclient.NewDynamoDB(awsCfg), settings.Table).OrderStatus(ctx, id)
	if err != nil {
		return storeError(err, id, settings.Table)
	}
	st.Action = handlers.OrderAction(st, time.Now(), routes.Lane)
	if *asJSON {
		enc := json.NewEncoder(inv.Stdout)
		return enc.Encode(st)
	}
	return printOrderStatus(inv.Stdout, st)
}

// printOrderStatus writes st as a person reads it.
func printOrderStatus(w io.Writer, st ddb.OrderStatus) error {
	when := func(t *time.Time) string {
		if t == nil {
			return "no"
		}
		return t.UTC().Format(time.RFC3339)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "order      %s\nevent      %s\ncreated    %s\ntickets    %d of %d done\ncomplete   %s\ndispatched %s\n",
		st.OrderID, dlq.Escaped(st.Event), st.CreatedAt.UTC().Format(time.RFC3339), st.Done, st.Total, when(st.CompletedAt), when(st.DispatchedAt))
	if len(st.Failed) > 0 {
		fmt.Fprintf(&b, "failed     %d tickets\n", len(st.Failed))
		for _, n := range st.Failed {
			fmt.Fprintf(&b, "  ticket %d: %s\n", n, dlq.Escaped(st.Errors[n]))
		}
	}
	if s := st.Stalled; s != nil {
		fmt.Fprintf(&b, "stalled    since %s: ", s.Since.UTC().Format(time.RFC3339))
		if s.DispatchFailed {
			b.WriteString("the dispatch job failed for good")
		} else {
			fmt.Fprintf(&b, "the dispatch could not be enqueued on the last receive of ticket %s", joinInts(s.Tickets))
		}
		fmt.Fprintf(&b, ": %s\n", dlq.Escaped(s.Reason))
	}
	if st.Action != "" {
		fmt.Fprintf(&b, "action     %s\n", st.Action)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func joinInts(ns []int) string {
	s := make([]string, len(ns))
	for i, n := range ns {
		s[i] = fmt.Sprint(n)
	}
	return strings.Join(s, ", ")
}

// repairTimeout bounds a repair's sends, up to an order's 1000 tickets.
const repairTimeout = 30 * time.Second

func runBatchRepair(ctx context.Context, inv *busywork.Invocation) error {
	id, err := orderArg(inv, flag.NewFlagSet("batch repair", flag.ContinueOnError))
	if err != nil {
		return err
	}
	settings, err := inv.Settings()
	if err != nil {
		return err
	}
	awsCfg, err := inv.AWS(ctx)
	if err != nil {
		return err
	}
	// The jobs a repair enqueues are the worker's follow-ups, up to an
	// order's 1000 tickets.
	router, err := inv.Router(ctx, sqs.NewFromConfig(awsCfg), producer.WithTimeout(repairTimeout))
	if err != nil {
		return err
	}
	store := ddb.New(awsclient.NewDynamoDB(awsCfg), settings.Table)
	quiet := slog.New(slog.DiscardHandler)
	tickets := &handlers.Tickets{Store: store, Groups: groups.New(store, router, groups.Options{Logger: quiet}), Logger: quiet}
	r, err := tickets.Repair(ctx, id)
	if err != nil {
		return storeError(err, id, settings.Table)
	}
	var msg string
	switch {
	case r.Dispatched:
		msg = fmt.Sprintf("order %s: its tickets were emailed already; nothing to do\n", id)
	case r.DispatchEnqueued:
		msg = fmt.Sprintf("order %s: every ticket is made; enqueued its dispatch (job %s, lane %s). The tickets are emailed once, "+
			"also if another dispatch is on its way. Follow it with: busywork batch status %s\n",
			id, groups.FollowUpID(id), router.Lane(demo.TypeDispatchTickets), id)
	case len(r.Requeued) > 0:
		msg = fmt.Sprintf("order %s: enqueued the %d failed tickets again (%s, lane %s); the order is emailed once they are made. "+
			"Their dead letters may stay in the DLQ: replaying them too changes nothing. Follow it with: busywork batch status %s\n",
			id, len(r.Requeued), joinInts(r.Requeued), router.Lane(demo.TypeGenerateTicket), id)
	default:
		msg = fmt.Sprintf("order %s: %d tickets are still being made and none failed; nothing to repair. If none moves for long, "+
			"look for their jobs in the DLQ: busywork dlq peek --lane %s --type %s\n", id, r.Pending, router.Lane(demo.TypeGenerateTicket), demo.TypeGenerateTicket)
	}
	_, err = io.WriteString(inv.Stdout, msg)
	return err
}
