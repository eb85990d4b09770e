package producer

import (
	"context"

	"github.com/busywork/busywork/jobs"
)

// Tracer traces the producer's sends. Set as Options.Tracer (WithTracer),
// it is called once for each Send and SendBatch call whose jobs were
// encoded, before the call's SQS requests, with what the call sends. It
// returns the context those requests are made under (carrying the send's
// span, so that an instrumented SDK client traces them as its children),
// the trace context every message of the call carries in its traceparent
// attribute (jobs.AttrTraceParent; "" for none), and end, which the
// producer calls once, with the call's error, when the call is over.
//
// Package tracing's Producer is a Tracer for OpenTelemetry. The producer
// itself depends on no tracing library; without a Tracer it adds nothing
// to a message and does no work for tracing.
//
// The trace context must be a W3C traceparent of version 00 (55
// characters, such as
// "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"); anything
// else is not sent. Options.MaxBodyBytes keeps room for it.
type Tracer func(ctx context.Context, send TracedSend) (context.Context, string, func(error))

// TracedSend is what one Send or SendBatch call sends, as a Tracer sees it.
type TracedSend struct {
	// QueueURL is the queue the jobs go to.
	QueueURL string
	// JobType is the jobs' type, or "" when a SendBatch sends jobs of
	// several types.
	JobType string
	// JobIDs are the ids of the jobs the call sends, in order.
	JobIDs []string
}

// WithTracer returns an option that sets Options.Tracer.
func WithTracer(t Tracer) func(*Options) {
	return func(o *Options) { o.Tracer = t }
}

// traceParentLen is the length of a W3C traceparent of version 00.
const traceParentLen = len("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")

// traceBytes is the room a message keeps for its traceparent attribute
// when the producer has a Tracer, as SQS counts it: name, data type and
// value.
func (p *Producer) traceBytes() int {
	if p.opts.Tracer == nil {
		return 0
	}
	return len(jobs.AttrTraceParent) + len(stringType) + traceParentLen
}

// trace starts the trace of a send of msgs with the producer's Tracer, if
// it has one, and sets the traceparent attribute of each message. It
// returns the context to send under and the function that ends the
// trace with the send's error.
func (p *Producer) trace(ctx context.Context, msgs ...*message) (context.Context, func(error)) {
	if p.opts.Tracer == nil || len(msgs) == 0 {
		return ctx, endNothing
	}
	send := TracedSend{QueueURL: p.queueURL, JobType: msgs[0].jobType, JobIDs: make([]string, len(msgs))}
	for i, m := range msgs {
		send.JobIDs[i] = m.id
		if m.jobType != send.JobType {
			send.JobType = ""
		}
	}
	ctx, parent, end := p.opts.Tracer(ctx, send)
	if len(parent) == traceParentLen {
		for _, m := range msgs {
			m.setAttr(jobs.AttrTraceParent, parent)
		}
	}
	if end == nil {
		end = endNothing
	}
	return ctx, end
}

func endNothing(error) {}
