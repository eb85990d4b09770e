package producer

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Limits of the Unique option.
const (
	// MaxUniqueKeyBytes is the longest unique key.
	MaxUniqueKeyBytes = 512
	// MinUniqueWindow is the shortest unique window: the store counts
	// whole seconds.
	MinUniqueWindow = time.Second
	// MaxUniqueWindow is the longest unique window: 7 days. A longer one
	// is more likely a mistake (a count of seconds read as a Duration)
	// than a wish.
	MaxUniqueWindow = 7 * 24 * time.Hour
)

// uniqueReleaseTimeout bounds the release of a unique key after a failed
// send; Send may return that much later than Options.Timeout.
const uniqueReleaseTimeout = 250 * time.Millisecond

var (
	// ErrInvalidUnique is wrapped by the error for a Unique option that
	// Send refuses before any network call: an empty key or one over
	// MaxUniqueKeyBytes, a window outside MinUniqueWindow to
	// MaxUniqueWindow, a producer without a UniqueStore, or Unique given
	// to SendBatch.
	ErrInvalidUnique = errors.New("invalid unique option")
	// ErrDuplicate is wrapped by *DuplicateError, the error of a Send
	// with Unique whose key a job sent earlier holds: nothing was sent.
	ErrDuplicate = errors.New("duplicate job")
)

// UniqueStore keeps the keys of the jobs sent with Unique, each for a
// window. *ddb.Store is one (give it with WithUniqueStore).
type UniqueStore interface {
	// ClaimUnique records key for job jobID for window from now, unless
	// a record of key made less than its window ago exists. It returns
	// an empty heldBy when the key is jobID's, or else the id of the job
	// that holds it; until is when that hold ends. It must compare the
	// stored end with the time, not rely on the record's absence: a
	// store's expiry (DynamoDB's TTL) deletes late.
	ClaimUnique(ctx context.Context, key, jobID string, window time.Duration) (heldBy string, until time.Time, err error)
	// ReleaseUnique deletes key's record if job jobID holds it.
	ReleaseUnique(ctx context.Context, key, jobID string) error
}

// WithUniqueStore returns an option that sets Options.Uniques: the store
// that makes the Unique option work.
func WithUniqueStore(store UniqueStore) func(*Options) {
	return func(o *Options) { o.Uniques = store }
}

// DuplicateError is the error of a Send with Unique whose key was taken:
// a job with the same type and key was sent within the window. Nothing
// was sent; Send returns JobID, the job sent earlier, as its job id. It
// wraps ErrDuplicate.
type DuplicateError struct {
	JobType string
	// JobID is the id of the job that holds the key.
	JobID string
	// Until is when the key's window ends; a Send after it is sent.
	Until time.Time
}

// Error returns a message naming the job type, the job that holds the key
// and the end of its window (not the key, which may hold an address).
func (e *DuplicateError) Error() string {
	return fmt.Sprintf("producer: %s job: %v: job %s holds its unique key until %s",
		e.JobType, ErrDuplicate, e.JobID, e.Until.UTC().Format(time.RFC3339))
}

// Unwrap returns ErrDuplicate.
func (e *DuplicateError) Unwrap() error { return ErrDuplicate }

// uniqueOption is what Unique sets.
type uniqueOption struct {
	key    string
	window time.Duration
}

// Unique returns an option that makes Send a no-op when a job of the same
// type was sent with the same key less than window ago: a double-clicked
// order button enqueues one order. It needs a producer made with
// WithUniqueStore, which records each key (for a *ddb.Store: one
// conditional write to DynamoDB per Send, before the SQS call).
//
// key is 1 to MaxUniqueKeyBytes bytes, compared per job type; the store
// keeps only its SHA-256, so it may hold an address or an order's
// contents. window is MinUniqueWindow to MaxUniqueWindow, rounded up to a
// whole second. Send refuses other values, and a producer without a
// store, with ErrInvalidUnique before any network call. SendBatch refuses
// Unique for every job, before any network call: send unique jobs with
// Send, which micro-batches them with WithBatching.
//
// When the key is free, Send records it with the job's id, then sends the
// job. When a job sent earlier holds it, Send sends nothing and returns
// that job's id with a *DuplicateError (errors.Is(err, ErrDuplicate)): a
// web handler answers as it did for the first. A second Send that comes
// while the first is still in flight is a duplicate too; should that
// first send then fail, its caller gets the error, and the duplicate's
// caller was told of a job that was not enqueued.
//
// Nothing is lost to a failed send: when SQS refuses the job or the call
// fails or times out, Send deletes the key's record (taking up to 250 ms
// past Options.Timeout for it), so a retry is sent at once. After a
// timeout SQS may have taken the job all the same, so that retry may
// enqueue it twice; give both the same JobID and the consumer's
// idempotency key recognises the repeat. If that delete fails too, the
// error says until when the key stays held. A process that dies between
// recording the key and SQS's answer leaves the key held, without a job,
// until the window ends: keep windows as short as their purpose allows.
//
// Once its key is recorded, others may be told of its job, so a Send with
// Unique does not end with ctx's cancellation (a browser that gives up on
// the first click's request), only with ctx's deadline or
// Options.Timeout, whichever is first.
func Unique(key string, window time.Duration) SendOption {
	return func(o *sendOptions) { o.unique = &uniqueOption{key: key, window: window} }
}

// checkUnique refuses u, the Unique option of a job of type typ, if it is
// out of range or the producer has no store for it. A nil u passes.
func checkUnique(typ string, u *uniqueOption, store UniqueStore) error {
	if u == nil {
		return nil
	}
	var problem string
	switch {
	case u.key == "":
		problem = "the key is empty"
	case len(u.key) > MaxUniqueKeyBytes:
		problem = fmt.Sprintf("the key of %d bytes is longer than %d", len(u.key), MaxUniqueKeyBytes)
	case u.window < MinUniqueWindow:
		problem = fmt.Sprintf("the window %v is shorter than %v", u.window, MinUniqueWindow)
	case u.window > MaxUniqueWindow:
		problem = fmt.Sprintf("the window %v is longer than %v (7 days)", u.window, MaxUniqueWindow)
	case store == nil:
		problem = "the producer has no unique store (WithUniqueStore)"
	default:
		return nil
	}
	return fmt.Errorf("producer: %s job: %w: %s", typ, ErrInvalidUnique, problem)
}

// errUniqueInBatch is SendBatch's error for every job when it is given
// Unique.
var errUniqueInBatch = fmt.Errorf("producer: %w: SendBatch does not take Unique; send each unique job with Send", ErrInvalidUnique)

// uniqueKey scopes key to jobs of type typ.
func uniqueKey(typ, key string) string { return typ + "\x00" + key }

// sendUnique sends m, encoded with its Unique option u, once it holds u's
// key; ctx carries the Send's Timeout.
func (p *Producer) sendUnique(ctx context.Context, m *message, u uniqueOption) (string, error) {
	// Once the key is recorded, a duplicate may be told of this job: its
	// send must not end with the caller's cancellation, only its deadline.
	deadline, _ := ctx.Deadline() // Send set one
	ctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), deadline)
	defer cancel()
	key := uniqueKey(m.jobType, u.key)
	heldBy, until, err := p.opts.Uniques.ClaimUnique(ctx, key, m.id, u.window)
	if err != nil {
		// The record may have been written before the call failed.
		err = fmt.Errorf("producer: %s job %s: record its unique key: %w", m.jobType, m.id, err)
		return "", p.releaseUnique(ctx, key, m, until, err)
	}
	if heldBy != "" {
		return heldBy, &DuplicateError{JobType: m.jobType, JobID: heldBy, Until: until}
	}
	id, err := p.sendMessage(ctx, m)
	if err != nil {
		return id, p.releaseUnique(ctx, key, m, until, err)
	}
	return id, nil
}

// releaseUnique deletes the record of key that m's send made, after that
// send failed with sendErr, and returns sendErr with, if the delete failed
// too, why and until when the key stays held.
func (p *Producer) releaseUnique(ctx context.Context, key string, m *message, until time.Time, sendErr error) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), uniqueReleaseTimeout)
	defer cancel()
	if err := p.opts.Uniques.ReleaseUnique(ctx, key, m.id); err != nil {
		held := "until its window ends"
		if !until.IsZero() {
			held = "until " + until.UTC().Format(time.RFC3339)
		}
		return errors.Join(sendErr, fmt.Errorf("producer: %s job %s: its unique key stays held %s: %w", m.jobType, m.id, held, err))
	}
	return sendErr
}
