package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	dynamodbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/busywork/busywork/ddb"
	"github.com/busywork/busywork/internal/awsclient"
	"github.com/busywork/busywork/jobs"
)

var batchCommand = &command{
	name:    "batch",
	args:    "status [--json] ORDER_ID",
	summary: "show the progress of a ticket order",
	run:     runBatch,
	help: `batch status prints how far ticket order ORDER_ID has come: tickets done of
the total, the tickets that failed and why, and whether the tickets were
emailed. --json prints the same as GET /orders/ORDER_ID does. An unknown
order (or one no worker has taken yet) exits 1; an ORDER_ID no order can
have (order ids are 1 to 128 letters, digits, '-' and '_') exits 2.

Example:
  busywork batch status 3b6yq5v7b4...
`,
}

func runBatch(ctx context.Context, c *command, out cmdIO, args []string) error {
	fs := flag.NewFlagSet("batch", flag.ContinueOnError)
	if err := c.parseFlags(fs, out.stdout, args); err != nil {
		return err
	}
	switch {
	case fs.NArg() == 0:
		return usagef("missing subcommand status")
	case fs.Arg(0) != "status":
		return usagef("unknown subcommand %q (known: status)", fs.Arg(0))
	}
	status := flag.NewFlagSet("batch status", flag.ContinueOnError)
	asJSON := status.Bool("json", false, "print JSON, for scripts")
	if err := c.parseFlags(status, out.stdout, fs.Args()[1:]); err != nil {
		return err
	}
	switch status.NArg() {
	case 0:
		return usagef("missing argument ORDER_ID")
	case 1:
	default:
		return usagef("unexpected argument %q after ORDER_ID", status.Arg(1))
	}
	id := status.Arg(0)
	if err := jobs.ValidateOrderID(id); err != nil {
		return usagef("%v", err)
	}
	cfg, awsCfg, err := loadEnv(ctx)
	if err != nil {
		return err
	}
	st, err := ddb.New(awsclient.NewDynamoDB(awsCfg), cfg.Table).OrderStatus(ctx, id)
	if errors.Is(err, ddb.ErrNotFound) {
		return fmt.Errorf("no order %s in table %s (a new order shows once a worker has taken it)", id, cfg.Table)
	}
	var noTable *dynamodbtypes.ResourceNotFoundException
	if errors.As(err, &noTable) {
		return fmt.Errorf("table %s does not exist: run `busywork bootstrap` to create it (%w)", cfg.Table, err)
	}
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(out.stdout)
		return enc.Encode(st)
	}
	return printOrderStatus(out.stdout, st)
}

// printOrderStatus writes st as a person reads it.
func printOrderStatus(w io.Writer, st ddb.OrderStatus) error {
	when := func(t *time.Time) string {
		if t == nil {
			return "no"
		}
		return t.UTC().Format(time.RFC3339)
	}
	_, err := fmt.Fprintf(w, "order      %s\nevent      %s\ncreated    %s\ntickets    %d of %d done\ncomplete   %s\ndispatched %s\n",
		st.OrderID, st.Event, st.CreatedAt.UTC().Format(time.RFC3339), st.Done, st.Total, when(st.CompletedAt), when(st.DispatchedAt))
	if err != nil {
		return err
	}
	if len(st.Failed) > 0 {
		if _, err := fmt.Fprintf(w, "failed     %d tickets\n", len(st.Failed)); err != nil {
			return err
		}
		for _, n := range st.Failed {
			if _, err := fmt.Fprintf(w, "  ticket %d: %s\n", n, st.Errors[n]); err != nil {
				return err
			}
		}
	}
	return nil
}
