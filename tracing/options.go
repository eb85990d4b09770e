package tracing

import (
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// ScopeName is the instrumentation scope of the spans this package makes.
const ScopeName = "github.com/busywork/busywork/tracing"

// Option configures Producer, Middleware and AWS.
type Option func(*options)

type options struct {
	provider trace.TracerProvider
}

// WithTracerProvider makes spans with tp instead of the global provider
// (otel.GetTracerProvider, a no-op until the program sets one).
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(o *options) { o.provider = tp }
}

// tracer returns the tracer that opts configure.
func tracer(opts []Option) trace.Tracer {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if o.provider == nil {
		o.provider = otel.GetTracerProvider()
	}
	return o.provider.Tracer(ScopeName)
}

// Attributes of busywork's own, beside OpenTelemetry's semantic
// conventions.
const (
	attrJobID        = attribute.Key("busywork.job.id")
	attrJobType      = attribute.Key("busywork.job.type")
	attrAttempt      = attribute.Key("busywork.job.attempt")
	attrReceiveCount = attribute.Key("busywork.job.receive_count")
	attrLane         = attribute.Key("busywork.lane")
	attrQueueWait    = attribute.Key("busywork.queue_wait_ms")
)

// Values of the semantic conventions for messaging on SQS.
var (
	systemSQS        = semconv.MessagingSystemAWSSQS
	operationSend    = semconv.MessagingOperationName("send")
	operationProcess = semconv.MessagingOperationName("process")
)
