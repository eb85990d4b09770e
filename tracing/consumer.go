package tracing

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/busywork/busywork/consumer"
	"github.com/busywork/busywork/jobs"
)

// Middleware returns a consumer.Middleware that runs each job's handler
// under a span of kind consumer, named "process TYPE": a child of the
// send's span that the message names (its traceparent attribute, else
// SQS's AWSTraceHeader), or the root of a new trace for a message that
// names none. The handler's context carries the span, so the calls it
// makes with that context (through clients instrumented by AWS, say) are
// its children. Install it first (Mux.Use), so that the span holds what
// the other middleware do.
func Middleware(opts ...Option) consumer.Middleware {
	t := tracer(opts)
	return func(next consumer.Handler) consumer.Handler {
		return func(ctx context.Context, job jobs.Job) (err error) {
			started := time.Now()
			d, _ := consumer.DeliveryFromContext(ctx)
			start := []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindConsumer)}
			if parent := sender(d); parent.IsValid() {
				ctx = trace.ContextWithRemoteSpanContext(ctx, parent)
			} else {
				start = append(start, trace.WithNewRoot())
			}
			ctx, span := t.Start(ctx, "process "+job.Type(), start...)
			if span.IsRecording() {
				span.SetAttributes(jobAttributes(d, job.Type(), started)...)
			}
			returned := false
			defer func() {
				switch {
				case !returned:
					span.SetStatus(codes.Error, "handler panicked")
				case err != nil && !consumer.IsSnooze(err):
					span.RecordError(err)
					span.SetStatus(codes.Error, err.Error())
				}
				span.End()
			}()
			err = next(ctx, job)
			returned = true
			return err
		}
	}
}

// sender returns the span context of the send that enqueued d's job, as
// its message names it; not valid if it names none.
func sender(d consumer.Delivery) trace.SpanContext {
	if sc := parseParent(d.TraceParent); sc.IsValid() {
		return sc
	}
	return parseXRay(d.AWSTraceHeader)
}

func jobAttributes(d consumer.Delivery, typ string, started time.Time) []attribute.KeyValue {
	attrs := []attribute.KeyValue{
		systemSQS,
		operationProcess,
		semconv.MessagingOperationTypeProcess,
		semconv.MessagingDestinationName(d.Queue),
		semconv.MessagingMessageID(d.MessageID),
		attrJobID.String(d.ID),
		attrJobType.String(typ),
		attrAttempt.Int(d.Attempt),
		attrReceiveCount.Int(d.ReceiveCount),
		attrLane.String(d.Lane),
	}
	if !d.SentAt.IsZero() {
		attrs = append(attrs, attrQueueWait.Int64(max(started.Sub(d.SentAt), 0).Milliseconds()))
	}
	return attrs
}
