package consumer

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/busywork/busywork/jobs"
)

// DefaultTimeout is how long a handler may run when its registration sets
// no Timeout.
const DefaultTimeout = 30 * time.Second

// Mux routes each job to the handler registered for its type. Register
// handlers with Handle, and middleware with Use, before the consumer is
// made with New; a Mux is not safe for registration while it serves.
type Mux struct {
	routes     map[string]*route
	middleware []Middleware
}

// route is one registered job type: how to decode and validate a body into
// the handler's job struct, and how long its handler may run.
type route struct {
	timeout time.Duration
	// decode decodes and validates body into the handler's job.
	decode func(body []byte) (jobs.Job, error)
	// strict decodes fields a person typed, refusing unknown ones (Parse).
	strict func(fields []byte) (jobs.Job, error)
	// handler is the registered handler, as a Handler.
	handler Handler
	// middleware wraps this type's handler, inside the Mux's.
	middleware []Middleware
	// run is handler wrapped in the Mux's and the route's middleware;
	// New builds it.
	run Handler
	// retry is the type's retry policy; its zero Attempts leaves the
	// count to the queue.
	retry RetryPolicy
	// limiter paces the type's starts, if set.
	limiter Limiter
}

// Handler runs one job: the value Handle decoded, typed as the
// registration's T, under the job's context (its deadline, its Delivery).
type Handler func(ctx context.Context, job jobs.Job) error

// Middleware wraps a Handler, to log, trace, limit or guard the jobs it
// runs, as net/http's and asynq's middleware do. It returns the error of
// the handler, or one of its own, which the consumer treats as the
// handler's: Permanent dead-letters the job, RetryAfter sets its retry,
// any other error retries it with backoff, and a panic is recovered as
// the handler's is. The consumer's own rules stay outside every
// middleware: the deadline is on the context before the first one runs,
// and the outcome is decided from what the outermost one returns.
//
// Middleware added with Mux.Use wraps every job type's handler, outermost
// first in the order added; middleware given to Handle with With wraps
// that type's handler inside the Mux's, again outermost first. So with
// m.Use(a, b) and Handle(m, h, With(c)) a job runs a(b(c(h))).
type Middleware func(next Handler) Handler

// Use adds middleware that wraps the handler of every job type, registered
// before or after; see Middleware for the order.
func (m *Mux) Use(mw ...Middleware) {
	m.middleware = append(m.middleware, mw...)
}

// With wraps this registration's handler in mw, inside the Mux's
// middleware; see Middleware for the order.
func With(mw ...Middleware) HandleOption {
	return func(r *route) { r.middleware = append(r.middleware, mw...) }
}

// NewMux returns an empty Mux.
func NewMux() *Mux {
	return &Mux{routes: make(map[string]*route)}
}

// HandleOption configures one registration.
type HandleOption func(*route)

// Timeout sets how long the handler may run before its context is
// cancelled and the job is retried. It is capped at 12 hours, the longest
// SQS keeps a message invisible. The default is DefaultTimeout.
func Timeout(d time.Duration) HandleOption {
	return func(r *route) { r.timeout = d }
}

// Handle registers h for the jobs of type T, a struct type whose Type method
// names the jobs it handles. The consumer decodes each body into a T and
// calls Validate before h runs; a body that does not decode or validate is
// dead-lettered without calling h. h's error decides what happens next:
// nil deletes the job, Permanent dead-letters it, RetryAfter chooses the
// retry delay, and any other error retries it with backoff.
//
//	consumer.Handle(mux, func(ctx context.Context, j jobs.Ping) error {
//		log.Print(j.Message)
//		return nil
//	}, consumer.Timeout(5*time.Second))
//
// Handle panics if T's type name is empty or already registered, as
// net/http.ServeMux does for a duplicate pattern.
func Handle[T jobs.Job](m *Mux, h func(ctx context.Context, job T) error, opts ...HandleOption) {
	var zero T
	typ := zero.Type()
	if typ == "" {
		panic(fmt.Sprintf("consumer: Handle: %T has an empty Type()", zero))
	}
	if _, dup := m.routes[typ]; dup {
		panic(fmt.Sprintf("consumer: Handle: job type %q registered twice", typ))
	}
	r := &route{timeout: DefaultTimeout}
	for _, opt := range opts {
		opt(r)
	}
	if r.timeout <= 0 {
		panic(fmt.Sprintf("consumer: Handle: job type %q: timeout %s is not positive", typ, r.timeout))
	}
	if err := r.retry.check(); err != nil {
		panic(fmt.Sprintf("consumer: Handle: job type %q: retry policy: %v", typ, err))
	}
	r.timeout = min(r.timeout, maxVisibility)
	r.decode = func(body []byte) (jobs.Job, error) {
		var job T
		if err := json.Unmarshal(body, &job); err != nil {
			return nil, fmt.Errorf("decode %s job: %w", typ, err)
		}
		if err := job.Validate(); err != nil {
			return nil, fmt.Errorf("invalid %s job: %w", typ, err)
		}
		return job, nil
	}
	r.strict = decodeStrict[T]
	r.handler = func(ctx context.Context, job jobs.Job) error { return h(ctx, job.(T)) }
	m.routes[typ] = r
}

// build wraps every route's handler in its middleware and fills in its
// retry policy's defaults from cfg, for New.
func (m *Mux) build(cfg Config) {
	for _, r := range m.routes {
		r.retry = r.retry.withDefaults(cfg.BackoffBase, cfg.BackoffMax)
		run := r.handler
		for i := len(r.middleware) - 1; i >= 0; i-- {
			run = r.middleware[i](run)
		}
		for i := len(m.middleware) - 1; i >= 0; i-- {
			run = m.middleware[i](run)
		}
		r.run = run
	}
}

// Decode decodes and validates body as a job of type typ, as the consumer
// does before it runs the job's handler: for a command that enqueues a
// job, to refuse one the worker would dead-letter.
func (m *Mux) Decode(typ string, body []byte) (jobs.Job, error) {
	r, ok := m.routes[typ]
	if !ok {
		return nil, m.unknown(typ)
	}
	return r.decode(body)
}

// unknown is the error for a job type with no handler.
func (m *Mux) unknown(typ string) error {
	return fmt.Errorf("%w %q (known: %s)", ErrUnknownType, typ, strings.Join(m.Types(), ", "))
}

// Types returns the registered job types, sorted.
func (m *Mux) Types() []string {
	types := make([]string, 0, len(m.routes))
	for t := range m.routes {
		types = append(types, t)
	}
	sort.Strings(types)
	return types
}

// Delivery describes the message a handler is working on. Handlers read it
// with DeliveryFromContext, for example to use ID as an idempotency key.
type Delivery struct {
	// ID is the job's id: the job_id attribute set by busywork's producer,
	// or the SQS MessageId for a message that carries only a body.
	ID string
	// Type is the job's type, the body's "type" field.
	Type string
	// Lane is the name of the lane (QueueConfig.Name) the job came from.
	Lane string
	// Queue is the name of the queue the job came from (the last part of
	// QueueConfig.URL).
	Queue string
	// MessageID is the SQS MessageId.
	MessageID string
	// SentAt is when SQS accepted this message (its SentTimestamp): for a
	// fresh copy (a snooze, a retry past the queue's receives, a replay),
	// when the copy was sent. Zero if SQS did not say.
	SentAt time.Time
	// TraceParent is the W3C trace context of the send that enqueued the
	// job (its traceparent attribute, set by a producer with a Tracer),
	// or "". Package tracing continues that trace with the job's span.
	TraceParent string
	// AWSTraceHeader is SQS's AWSTraceHeader system attribute of the
	// message (an X-Ray trace header, set by producers traced with
	// X-Ray, or by SQS from such a sender's request), or "".
	AWSTraceHeader string
	// GroupID is the fan-out group the job belongs to (its group_id
	// attribute; see package groups), or "".
	GroupID string
	// DueAt is when the job was due to start: its due_at attribute, set
	// by the producer for a delayed job (a job is never run before it).
	// Zero for a job sent without a delay.
	DueAt time.Time
	// Attempt is which try of the job this is, from 1, counted across
	// the fresh copies the consumer sends for snoozes, waits and retries:
	// the tries earlier copies made (their attempts attribute) plus this
	// message's ReceiveCount. A snooze, or a wait for a due time or a rate
	// limit, is not a try.
	Attempt int
	// Attempts is how many tries the job type's retry policy allows
	// (RetryPolicy.Attempts), or 0 when the queue's maxReceiveCount
	// decides.
	Attempts int
	// ReceiveCount is SQS's ApproximateReceiveCount of this message: 1 on
	// its first receive.
	ReceiveCount int
	// MaxReceiveCount is the queue's redrive policy's maxReceiveCount: a
	// message that fails on that receive goes to the DLQ, unless its
	// type's retry policy allows more attempts. 0 if unknown.
	MaxReceiveCount int
	// HungGrace is how long past its context's deadline the consumer lets
	// the handler run before it gives the message back for a retry
	// (Config.HungGrace); what the handler does after that may overlap
	// the retry. 0 outside the consumer.
	HungGrace time.Duration
}

// LastTry reports whether a failure of this delivery sends the job to the
// dead-letter queue: it is the last of its type's Attempts, or, for a
// type that leaves the count to the queue, its receive count reached the
// redrive policy's maxReceiveCount.
func (d Delivery) LastTry() bool {
	if d.Attempts > 0 {
		return d.Attempt >= d.Attempts
	}
	return d.LastReceive()
}

// LastReceive reports whether the queue's redrive policy moves this
// message to the DLQ if it is not deleted: its receive count reached
// maxReceiveCount.
func (d Delivery) LastReceive() bool {
	return d.MaxReceiveCount > 0 && d.ReceiveCount >= d.MaxReceiveCount
}

type deliveryKey struct{}

// WithDelivery returns a copy of ctx that carries d, as the consumer gives
// a handler. Use it to call a handler directly in a test.
func WithDelivery(ctx context.Context, d Delivery) context.Context {
	return context.WithValue(ctx, deliveryKey{}, &d)
}

// DeliveryFromContext returns the Delivery of the job whose handler got
// ctx.
func DeliveryFromContext(ctx context.Context) (Delivery, bool) {
	d, ok := ctx.Value(deliveryKey{}).(*Delivery)
	if !ok {
		return Delivery{}, false
	}
	return *d, true
}
