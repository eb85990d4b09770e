package producer

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"time"
)

// Limits and defaults of the producer.
const (
	// DefaultMaxBodyBytes is the default of Options.MaxBodyBytes: 256 KiB.
	DefaultMaxBodyBytes = 256 << 10
	// MaxSQSMessageBytes is SQS's limit on one message (body plus
	// attributes) and on the total payload of one SendMessageBatch call:
	// 1 MiB.
	MaxSQSMessageBytes = 1 << 20
	// MaxBatchEntries is SQS's limit on the entries of one SendMessageBatch
	// call.
	MaxBatchEntries = 10
	// DefaultTimeout is the default of Options.Timeout.
	DefaultTimeout = time.Second
	// SuggestedBatchWindow is a good first value for WithBatching: short
	// next to an SQS round trip (several milliseconds), long enough for a
	// busy web server's concurrent Sends to meet.
	SuggestedBatchWindow = 5 * time.Millisecond
	// MaxDelay is the longest delay Delay and At accept: 30 days. SQS
	// delays a message by at most MaxSQSDelay; a longer delay travels as
	// the message's due_at, and the worker sends the job on in hops of up
	// to MaxSQSDelay until it is due, so the queue's retention bounds one
	// hop, not the delay. The bound only refuses the absurd (a typo, an
	// unset time): each day of delay costs 96 hops (see docs/guarantees.md).
	MaxDelay = 30 * 24 * time.Hour
	// MaxSQSDelay is the longest delay SQS gives one message: 15 minutes.
	MaxSQSDelay = 15 * time.Minute
)

// Options configures a Producer. The zero value of each field selects the
// default documented on it.
type Options struct {
	// MaxBodyBytes is the largest message Send accepts, counted as SQS
	// counts it: the body plus, for each message attribute, its name, data
	// type and value (the producer's own attributes take about 80 bytes,
	// about 160 with a signature). Zero or less means DefaultMaxBodyBytes;
	// values over MaxSQSMessageBytes are lowered to it by New, since SQS
	// refuses anything larger. With a Tracer, 72 bytes of it are kept for
	// the traceparent attribute.
	MaxBodyBytes int

	// SigningKey, when not empty, makes every message carry a "signature"
	// attribute: jobs.Sign(SigningKey, body). New keeps a copy.
	SigningKey []byte

	// Timeout bounds one Send or SendBatch call from start to end, across
	// the SDK's retries and, with batching, the batch window; a shorter
	// deadline on the caller's ctx wins. Zero or less means DefaultTimeout
	// (1 s): a web handler must answer "try again later" rather than hang.
	Timeout time.Duration

	// BatchWindow turns on micro-batching when positive: concurrent Sends
	// that start within BatchWindow of each other share one
	// SendMessageBatch call (at most MaxBatchEntries messages and
	// MaxSQSMessageBytes in all). Each Send waits up to BatchWindow longer
	// and fewer SQS requests are made. Zero (the default) or less sends
	// each message on its own. New lowers a window longer than half of
	// Timeout to half of Timeout. SuggestedBatchWindow is a good start.
	BatchWindow time.Duration

	// Uniques keeps the keys of the jobs sent with the Unique option (a
	// *ddb.Store); see WithUniqueStore. nil refuses Unique.
	Uniques UniqueStore

	// MaxHop is the longest SQS delay a delayed job's message is sent
	// with (its first hop); the rest of the delay travels as its due_at,
	// and the worker sends it on in hops of its own (consumer.Config's
	// MaxHop). Zero or less, or more than MaxSQSDelay, means MaxSQSDelay.
	// Tests shorten it, to see hops in seconds.
	MaxHop time.Duration

	// DelayStore, when set, records each job sent with a delay before its
	// message is sent, so that it can be cancelled until it starts
	// (package delays, whose middleware the worker runs). A *ddb.Store is
	// one. Without it a delayed job cannot be cancelled.
	DelayStore DelayStore

	// Tracer, when set, traces every Send and SendBatch call, and its
	// messages carry the trace context in their traceparent attribute,
	// so that the job's run continues the sender's trace (see Tracer;
	// package tracing has one for OpenTelemetry). Nil (the default)
	// traces nothing.
	Tracer Tracer
}

// DelayStore is the part of *ddb.Store that records a delayed job: jobID,
// of type jobType, due at due. It returns an error when the job must not
// be sent (it was cancelled).
type DelayStore interface {
	PutDelayedJob(ctx context.Context, jobID, jobType string, due time.Time) error
}

// WithMaxHop returns an option that sets Options.MaxHop.
func WithMaxHop(d time.Duration) func(*Options) {
	return func(o *Options) { o.MaxHop = d }
}

// WithDelayStore returns an option that sets Options.DelayStore.
func WithDelayStore(s DelayStore) func(*Options) {
	return func(o *Options) { o.DelayStore = s }
}

// WithSigningKey returns an option that sets Options.SigningKey.
func WithSigningKey(key []byte) func(*Options) {
	return func(o *Options) { o.SigningKey = key }
}

// WithBatching returns an option that sets Options.BatchWindow, turning
// micro-batching on for a positive window (SuggestedBatchWindow is a good
// start).
func WithBatching(window time.Duration) func(*Options) {
	return func(o *Options) { o.BatchWindow = window }
}

// WithTimeout returns an option that sets Options.Timeout.
func WithTimeout(d time.Duration) func(*Options) {
	return func(o *Options) { o.Timeout = d }
}

// WithMaxBodyBytes returns an option that sets Options.MaxBodyBytes.
func WithMaxBodyBytes(n int) func(*Options) {
	return func(o *Options) { o.MaxBodyBytes = n }
}

// withDefaults returns o with its zero values replaced by the defaults and
// its out-of-range values brought into range.
func (o Options) withDefaults() Options {
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	o.MaxBodyBytes = min(o.MaxBodyBytes, MaxSQSMessageBytes)
	o.SigningKey = bytes.Clone(o.SigningKey)
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	o.BatchWindow = min(max(o.BatchWindow, 0), o.Timeout/2)
	if o.MaxHop <= 0 || o.MaxHop > MaxSQSDelay {
		o.MaxHop = MaxSQSDelay
	}
	return o
}

// SendOption changes how Send or SendBatch sends its messages.
type SendOption func(*sendOptions)

type sendOptions struct {
	delay    time.Duration
	delaySet bool       // Delay was given
	at       *time.Time // At's time, when At was given
	jobIDs   []string
	group    string
	unique   *uniqueOption // Unique; unique.go
	tenant   *string       // Tenant; tenant.go
}

// Delay returns an option that starts the jobs no sooner than d after the
// send. d must be between 0 and MaxDelay (30 days); Send refuses other
// values with ErrInvalidDelay before any network call. SQS counts whole
// seconds, so a fraction of a second is rounded up.
//
// A job sent with a delay carries its due time (the due_at attribute)
// and SQS keeps its message invisible for up to MaxSQSDelay (15 minutes);
// a worker that receives it before it is due holds it, if the wait is
// short, or sends it on as a fresh copy delayed by up to 15 minutes (a
// hop), until it is due. With Options.DelayStore, the job is recorded
// before it is sent, and can be cancelled until it starts.
//
// Delay(0), like no Delay at all, sends the job to run now, and leaves
// the queue's own DelaySeconds in force: the SDK does not send a zero
// delay. Delay and At cannot be given together.
func Delay(d time.Duration) SendOption {
	return func(o *sendOptions) { o.delay, o.delaySet = d, true }
}

// At returns an option that starts the jobs no sooner than t, as Delay
// does for the time from the send until t. t must be at most MaxDelay
// from now. A t in the past sends the jobs to run now (a reminder whose
// time has passed still goes out), unless it is more than MaxDelay ago,
// or the zero time.Time (a time never set): Send refuses those with
// ErrInvalidDelay before any network call.
func At(t time.Time) SendOption {
	return func(o *sendOptions) { o.at = &t }
}

// JobID returns an option that sends the job under id instead of a fresh
// one: a deterministic id for a follow-up job (an order's dispatch), so
// that a repeated send is recognised as the same job by its handler. id
// must pass jobs.ValidateJobID; Send refuses others with ErrInvalidJob
// before any network call. SendBatch takes it only for a single job.
func JobID(id string) SendOption {
	return JobIDs(id)
}

// JobIDs returns an option that sends the i-th job of a SendBatch under
// ids[i], as JobID does for one job. SendBatch refuses it, with
// ErrInvalidJob for every job, unless it holds one id per job.
func JobIDs(ids ...string) SendOption {
	ids = slices.Clone(ids)
	return func(o *sendOptions) { o.jobIDs = ids }
}

// Group returns an option that marks the jobs as members of fan-out group
// id (their group_id attribute): see package groups, which sets it. id
// must pass jobs.ValidateGroupID; Send refuses others with ErrInvalidJob
// before any network call.
func Group(id string) SendOption {
	return func(o *sendOptions) { o.group = id }
}

// delayFrom returns how long after now the send's jobs are due (0 for
// now), or why the Delay or At option is refused.
func (so sendOptions) delayFrom(now time.Time) (time.Duration, error) {
	if so.at == nil {
		if so.delay < 0 || so.delay > MaxDelay {
			return 0, fmt.Errorf("%w: %v is not between 0 and %v", ErrInvalidDelay, so.delay, maxDelayText)
		}
		return so.delay, nil
	}
	at := *so.at
	switch {
	case so.delaySet:
		return 0, fmt.Errorf("%w: Delay(%v) and At(%s) given together; give one", ErrInvalidDelay, so.delay, at.Format(time.RFC3339))
	case at.IsZero():
		return 0, fmt.Errorf("%w: At of the zero time (a time never set?)", ErrInvalidDelay)
	case at.Sub(now) > MaxDelay:
		return 0, fmt.Errorf("%w: At(%s) is more than %v from now", ErrInvalidDelay, at.UTC().Format(time.RFC3339), maxDelayText)
	case now.Sub(at) > MaxDelay:
		return 0, fmt.Errorf("%w: At(%s) is more than %v ago", ErrInvalidDelay, at.UTC().Format(time.RFC3339), maxDelayText)
	}
	return max(at.Sub(now), 0), nil
}

// Due returns when jobs sent at now with opts are due (now for jobs sent
// without a delay), or the error Send would give for their Delay or At,
// wrapping ErrInvalidDelay: for a caller that checks a delay before it
// sends, or tells when a job will run.
func Due(now time.Time, opts ...SendOption) (time.Time, error) {
	d, err := collectSendOptions(opts).delayFrom(now)
	if err != nil {
		return time.Time{}, err
	}
	return now.Add(d), nil
}

// maxDelayText is MaxDelay in words, for errors.
var maxDelayText = fmt.Sprintf("%d days (%v)", MaxDelay/(24*time.Hour), MaxDelay)

// checkBatch refuses options that cannot apply to a batch of n jobs.
func (so sendOptions) checkBatch(n int) error {
	if so.jobIDs != nil && len(so.jobIDs) != n {
		return fmt.Errorf("producer: %w: %d job ids for %d jobs", ErrInvalidJob, len(so.jobIDs), n)
	}
	return nil
}

// jobID returns the id that job i of the send must have, or "" for a
// fresh one.
func (so sendOptions) jobID(i int) string {
	if so.jobIDs == nil {
		return ""
	}
	return so.jobIDs[i]
}

func collectSendOptions(opts []SendOption) sendOptions {
	var so sendOptions
	for _, opt := range opts {
		if opt != nil {
			opt(&so)
		}
	}
	return so
}
