package handlers

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/busywork/busywork/consumer"
	"github.com/busywork/busywork/ddb"
)

// JobClaims is the part of *ddb.Store that makes a side effect happen once
// per job id, however often its job is delivered.
type JobClaims interface {
	ClaimJob(ctx context.Context, jobID string, lease time.Duration) (ddb.Claim, error)
	CompleteJob(ctx context.Context, jobID, result string) error
	ReleaseJob(ctx context.Context, jobID, owner string) error
}

// once runs do under the idempotency claim of id: not at all when an
// earlier attempt completed it, later (a RetryAfter error) while another
// attempt holds it. do returns the result to record. When do fails, the
// claim is released so that a retry may run at once; when it succeeds, the
// claim is completed. what names the work in logs and errors.
func once(ctx context.Context, claims JobClaims, id, what string, log *slog.Logger, do func() (string, error)) error {
	claim, err := claims.ClaimJob(ctx, id, claimLease(ctx))
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

	result, err := do()
	settle, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
	defer cancel()
	if err != nil {
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
