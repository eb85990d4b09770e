package producer

import (
	"bytes"
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
	// MaxDelay is the longest delay SQS accepts for a message: 15 minutes.
	MaxDelay = 15 * time.Minute
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

	// Tracer, when set, traces every Send and SendBatch call, and its
	// messages carry the trace context in their traceparent attribute,
	// so that the job's run continues the sender's trace (see Tracer;
	// package tracing has one for OpenTelemetry). Nil (the default)
	// traces nothing.
	Tracer Tracer
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
	return o
}

// SendOption changes how Send or SendBatch sends its messages.
type SendOption func(*sendOptions)

type sendOptions struct {
	delay  time.Duration
	jobIDs []string
	group  string
}

// Delay returns an option that keeps the messages invisible to consumers
// for d after SQS accepts them. d must be between 0 and MaxDelay (15
// minutes); Send refuses other values with ErrInvalidDelay before any
// network call. SQS counts whole seconds, so a fraction of a second is
// rounded up. Delay(0), like no Delay at all, leaves the queue's own
// DelaySeconds in force: the SDK does not send a zero delay.
func Delay(d time.Duration) SendOption {
	return func(o *sendOptions) { o.delay = d }
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
