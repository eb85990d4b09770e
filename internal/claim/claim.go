// Package claim makes a side effect happen once per id, however often
// the job that causes it is delivered: the work runs under a claim in
// DynamoDB (ddb.Store's ClaimJob), renewed while it runs and completed
// when it is done.
package claim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/busywork/busywork/consumer"
	"github.com/busywork/busywork/ddb"
)

// Store is the part of *ddb.Store that makes a side effect happen once
// per job id, however often its job is delivered.
type Store interface {
	ClaimJob(ctx context.Context, jobID string, lease time.Duration) (ddb.Claim, error)
	RenewJob(ctx context.Context, jobID, owner string, lease time.Duration) (time.Time, error)
	CompleteJob(ctx context.Context, jobID, result string) error
	ReleaseJob(ctx context.Context, jobID, owner string) error
}

// Lease is how long a job's claim holds between two renewals. The
// attempt holding it renews it every Lease/3 while its work runs, up
// to the job's deadline plus the consumer's hung grace, so a worker that
// dies holding a claim delays the job's next delivery by about Lease
// (DynamoDB keeps whole seconds: at most a second more).
const Lease = 5 * time.Second

// claimRenewal is how often a claim is renewed while its work runs: three
// times a lease, so that one slow or failed renewal does not lose it.
const claimRenewal = Lease / 3

// SettleTimeout bounds the DynamoDB writes that settle a claim (or any
// record of a job's outcome) after the handler's own context may have
// ended.
const SettleTimeout = 5 * time.Second

// Once runs do under the idempotency claim of id: not at all when an
// earlier attempt completed it, later (a RetryAfter error) while another
// attempt holds it. do returns the result to record. While do runs, the
// claim is renewed (see Lease); if it is lost, do's context is
// cancelled, since another attempt may be doing the work. When do fails,
// the claim is released so that a retry may run at once; when it
// succeeds, the claim is completed. what names the work in logs and
// errors.
func Once(ctx context.Context, claims Store, id, what string, log *slog.Logger, do func(context.Context) (string, error)) error {
	end := claimEnd(ctx)
	claim, err := claims.ClaimJob(ctx, id, leaseUntil(end))
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	switch {
	case claim.Done:
		log.InfoContext(ctx, what+": already done, sent nothing", "outcome", "duplicate", "result", claim.Result)
		return nil
	case !claim.Claimed:
		wait := max(time.Until(claim.LeaseUntil), time.Second)
		return consumer.RetryAfter(wait, fmt.Errorf("%s: %s is held by another attempt until %s",
			what, id, claim.LeaseUntil.UTC().Format(time.RFC3339)))
	}

	work, lose := context.WithCancelCause(ctx)
	defer lose(nil)
	// The renewals go on while do runs, also past ctx's end (a handler
	// may take a moment to return), but never past end.
	renewals, stopRenewals := context.WithDeadline(context.WithoutCancel(ctx), end)
	var wg sync.WaitGroup
	wg.Go(func() { renew(renewals, claims, id, claim, end, lose, log) })
	result, err := do(work)
	stopRenewals()
	wg.Wait()

	settle, cancel := context.WithTimeout(context.WithoutCancel(ctx), SettleTimeout)
	defer cancel()
	if err != nil {
		if cause := context.Cause(work); errors.Is(cause, ddb.ErrClaimLost) {
			err = fmt.Errorf("%s: %w (%w)", what, cause, err)
		}
		// Whether or not the side effect may have happened, let the retry
		// run at once.
		if rerr := claims.ReleaseJob(settle, id, claim.Owner); rerr != nil {
			log.WarnContext(ctx, what+": could not release the claim; the retry waits for the lease", "error", rerr)
		}
		return err
	}
	if err := claims.CompleteJob(settle, id, result); err != nil {
		// The work is done: failing now would do it again.
		log.ErrorContext(ctx, what+": could not record the work as done; a redelivery may repeat it",
			"outcome", "sent", "error", err)
	}
	return nil
}

// renew renews claim of job id every claimRenewal until ctx ends, with
// leases that never pass end. When the claim turns out lost, or its lease
// runs out before a renewal succeeds, it calls lose with an error wrapping
// ddb.ErrClaimLost and returns.
func renew(ctx context.Context, claims Store, id string, claim ddb.Claim, end time.Time, lose context.CancelCauseFunc, log *slog.Logger) {
	tick := time.NewTicker(claimRenewal)
	defer tick.Stop()
	until := claim.LeaseUntil
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		lease := leaseUntil(end)
		if lease <= 0 {
			return
		}
		call, cancel := context.WithTimeout(ctx, claimRenewal)
		next, err := claims.RenewJob(call, id, claim.Owner, lease)
		cancel()
		switch {
		case err == nil:
			until = next
		case errors.Is(err, ddb.ErrClaimLost):
			lose(err)
			return
		case ctx.Err() != nil:
			return
		case !time.Now().Before(until):
			lose(fmt.Errorf("claim of %s: its lease ran out before a renewal succeeded (%w): %w", id, ddb.ErrClaimLost, err))
			return
		default:
			log.WarnContext(ctx, "could not renew a job's claim; trying again", "claim", id, "error", err)
		}
	}
}

// claimEnd returns when the claim of the job that got ctx must end at the
// latest: the handler's deadline plus the consumer's hung grace, after
// which the consumer gives the job back for a retry. Without a deadline it
// assumes consumer.DefaultTimeout from now.
func claimEnd(ctx context.Context) time.Time {
	d, _ := consumer.DeliveryFromContext(ctx)
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(consumer.DefaultTimeout)
	}
	return deadline.Add(d.HungGrace)
}

// leaseUntil returns the lease to ask for now: Lease, or what is left
// until end when that is shorter.
func leaseUntil(end time.Time) time.Duration {
	return min(Lease, time.Until(end))
}
