package busywork

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/busywork/busywork/awsclient"
	"github.com/busywork/busywork/ddb"
	"github.com/busywork/busywork/delays"
	"github.com/busywork/busywork/jobs"
)

var cancelCommand = &Command{
	Name:    "cancel",
	Args:    "JOB_ID",
	Summary: "cancel a delayed job until it starts",
	Run:     runCancel,
	Help: `Cancels the job JOB_ID, sent with a delay ('{name} send --delay' or --at, or
producer.Delay and producer.At with the runtime's table as their store),
so that it never runs: its record in BUSYWORK_TABLE is marked cancelled,
and the worker deletes the job's message when it comes due, running
nothing. A job cancelled already stays cancelled (exit 0).

It exits 1, changing nothing, when the job started (a worker passed its
due time and began running it: too late) or when BUSYWORK_TABLE holds no
delayed job JOB_ID: an unknown id, a job sent without a delay, or by a
producer without the table as its store, or one due more than 15 days
ago. A JOB_ID no job can have (1 to 128 letters, digits, '-' and '_')
exits 2.

Example:
  id=$({name} send --delay 2h ping '{"message":"later"}')
  {name} cancel "$id"
`,
}

func runCancel(ctx context.Context, inv *Invocation) error {
	fs := flag.NewFlagSet("cancel", flag.ContinueOnError)
	if err := inv.ParseFlags(fs, inv.Args); err != nil {
		return err
	}
	switch fs.NArg() {
	case 0:
		return Usagef("missing argument JOB_ID")
	case 1:
	default:
		return Usagef("unexpected argument %q after JOB_ID", fs.Arg(1))
	}
	id := fs.Arg(0)
	if err := jobs.ValidateJobID(id); err != nil {
		return Usagef("%v", err)
	}
	cfg, awsCfg, err := loadEnv(ctx)
	if err != nil {
		return err
	}
	d := delays.New(ddb.New(awsclient.NewDynamoDB(awsCfg), cfg.Table), delays.Options{})
	j, err := d.Cancel(ctx, id)
	switch {
	case errors.Is(err, ddb.ErrNotFound):
		return fmt.Errorf("no delayed job %s in table %s: an unknown id, a job sent without a delay or without the table as its store, or due more than %d days ago",
			id, cfg.Table, ddb.DefaultJobRetention/(24*time.Hour))
	case errors.Is(err, ddb.ErrJobStarted):
		return fmt.Errorf("job %s (%s) started at %s: too late to cancel", id, j.Type, j.StartedAt.UTC().Format(time.RFC3339))
	case err != nil:
		return tableError(inv, err, cfg.Table)
	}
	_, err = fmt.Fprintf(inv.Stdout, "cancelled %s (%s, was due %s)\n", id, j.Type, j.DueAt.UTC().Format(time.RFC3339))
	return err
}
