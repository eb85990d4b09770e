package dlq

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"golang.org/x/time/rate"
)

// PurgeOptions says which dead letters Purge deletes.
type PurgeOptions struct {
	// Filter selects the letters to delete. Its zero value selects all.
	Filter Filter
	// Max, when positive, is the most letters deleted.
	Max int
	// Progress, when set, is called after each batch received.
	Progress func(Progress)
}

// Purge deletes the letters that match opts.Filter, up to opts.Max, from
// the dead-letter queue, for good, and releases the others at once,
// untouched: it receives every letter once, as Replay does, and deletes
// the matching ones in batches. SQS's PurgeQueue would delete every
// letter, those of other types and causes too, and takes up to a minute.
//
// The summary counts the letters deleted in Moved; Failures are the
// matching letters whose delete failed, which stay in the dead-letter
// queue. When ctx ends, Purge finishes the batch being deleted, releases
// what it holds and returns ctx's error with the summary so far.
func (q *Queue) Purge(ctx context.Context, opts PurgeOptions) (*Summary, error) {
	return q.drain(ctx, ReplayOptions{Filter: opts.Filter, Max: opts.Max, Rate: float64(rate.Inf), Progress: opts.Progress}, (*replay).remove)
}

// remove deletes msgs from the dead-letter queue, and releases those
// whose delete failed.
func (r *replay) remove(msgs []types.Message) {
	failed := r.q.delete(msgs)
	r.sum.Failures = append(r.sum.Failures, failed...)
	r.sum.Failed += len(failed)
	r.sum.Moved += len(msgs) - len(failed)
	r.sum.Unreleased += len(r.q.release(letterMessages(failed)))
}
