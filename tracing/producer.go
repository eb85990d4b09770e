package tracing

import (
	"context"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/busywork/busywork/producer"
)

// Producer returns a producer.Tracer that makes a span of kind producer
// for each Send and SendBatch call, named "send TYPE", a child of the
// span in the caller's context (a new trace without one), and gives its
// trace context to the messages. With a TracerProvider that records
// nothing (the global no-op one) and no span in the caller's context, the
// messages carry nothing.
func Producer(opts ...Option) producer.Tracer {
	t := tracer(opts)
	return func(ctx context.Context, s producer.TracedSend) (context.Context, string, func(error)) {
		name := "send"
		if s.JobType != "" {
			name += " " + s.JobType
		}
		ctx, span := t.Start(ctx, name, trace.WithSpanKind(trace.SpanKindProducer))
		if !span.SpanContext().IsValid() {
			span.End() // no provider and no trace: nothing recorded, nothing to carry
			return ctx, "", func(error) {}
		}
		if span.IsRecording() {
			span.SetAttributes(sendAttributes(s)...)
		}
		return ctx, formatParent(ctx), func(err error) {
			if err != nil {
				span.RecordError(err)
				span.SetStatus(codes.Error, err.Error())
			}
			span.End()
		}
	}
}

func sendAttributes(s producer.TracedSend) []attribute.KeyValue {
	attrs := []attribute.KeyValue{
		systemSQS,
		operationSend,
		semconv.MessagingOperationTypeSend,
		semconv.MessagingDestinationName(s.QueueURL[strings.LastIndexByte(s.QueueURL, '/')+1:]),
	}
	if s.JobType != "" {
		attrs = append(attrs, attrJobType.String(s.JobType))
	}
	if len(s.JobIDs) == 1 {
		return append(attrs, attrJobID.String(s.JobIDs[0]))
	}
	return append(attrs, semconv.MessagingBatchMessageCount(len(s.JobIDs)))
}
