package delays

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/busywork/busywork/consumer"
	"github.com/busywork/busywork/ddb"
	"github.com/busywork/busywork/internal/claim"
	"github.com/busywork/busywork/jobs"
)

// Options configure Delays.
type Options struct {
	// Logger receives what the middleware records; nil means
	// slog.Default().
	Logger *slog.Logger
}

// Delays cancels delayed jobs and, through its Middleware, keeps
// cancelled ones from running and runs the others once. It is safe for
// concurrent use.
type Delays struct {
	store *ddb.Store
	opts  Options
}

// New returns Delays keeping its records in store: the store the
// producers record delayed jobs in (producer.WithDelayStore).
func New(store *ddb.Store, opts Options) *Delays {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Delays{store: store, opts: opts}
}

// Cancel cancels the delayed job jobID, so that it never runs, and returns
// it as cancelled. It succeeds for a job that is cancelled already. It
// fails, changing nothing, for a job that started (an error wrapping
// ddb.ErrJobStarted: a delivery passed its due time and began running it)
// and for an id with no record (an error wrapping ddb.ErrNotFound: an
// unknown id, a job sent without a delay or without a store, or one whose
// record expired, ddb.Options.JobRetention after it was due).
func (d *Delays) Cancel(ctx context.Context, jobID string) (ddb.DelayedJob, error) {
	if err := jobs.ValidateJobID(jobID); err != nil {
		return ddb.DelayedJob{}, fmt.Errorf("delays: cancel: %w: %w", ddb.ErrNotFound, err)
	}
	j, err := d.store.CancelDelayedJob(ctx, jobID)
	if err != nil {
		return j, fmt.Errorf("delays: %w", err)
	}
	return j, nil
}

// claimID is the id of the claim a delayed job runs under: apart from the
// job's own id, which its handler may claim itself ('#' is in no job id).
func claimID(jobID string) string { return "delayed#" + jobID }

// Middleware returns the middleware that skips cancelled delayed jobs and
// runs the others once (see the package comment). A job sent without a
// delay (no Delivery.DueAt) passes through it untouched. Install it
// outermost, so that a skipped job runs none of the other middleware.
func (d *Delays) Middleware() consumer.Middleware {
	return func(next consumer.Handler) consumer.Handler {
		return func(ctx context.Context, job jobs.Job) error {
			dl, _ := consumer.DeliveryFromContext(ctx)
			if dl.DueAt.IsZero() {
				return next(ctx, job)
			}
			log := d.opts.Logger.With("job_id", dl.ID, "job_type", dl.Type)
			_, err := d.store.StartDelayedJob(ctx, dl.ID)
			switch {
			case errors.Is(err, ddb.ErrJobCancelled):
				log.InfoContext(ctx, "delays: the job was cancelled; skipped", "outcome", "cancelled", "error", err)
				return nil
			case errors.Is(err, ddb.ErrNotFound):
				// Sent without a store: nobody can have cancelled it.
			case err != nil:
				return fmt.Errorf("delays: %w", err)
			}
			return claim.Once(ctx, d.store, claimID(dl.ID), "delays: delayed job", log, func(ctx context.Context) (string, error) {
				return "ran", next(ctx, job)
			})
		}
	}
}
