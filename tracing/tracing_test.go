package tracing_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/busywork/busywork/consumer"
	"github.com/busywork/busywork/jobs"
	"github.com/busywork/busywork/producer"
	"github.com/busywork/busywork/tracing"
)

const (
	traceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	xrayHeader  = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
)

// runJob runs a handler returning err (or panicking, for errPanic) under
// mw, with d as its Delivery, and returns the job's span.
func runJob(t *testing.T, s *spans, d consumer.Delivery, err error) spanOf {
	t.Helper()
	h := tracing.Middleware(tracing.WithTracerProvider(s.tp))(func(context.Context, jobs.Job) error {
		if err == errPanic {
			panic("boom")
		}
		return err
	})
	func() {
		defer func() { _ = recover() }() // the consumer recovers a handler's panic
		_ = h(consumer.WithDelivery(context.Background(), d), jobs.Ping{})
	}()
	ended := s.rec.Ended()
	if len(ended) != 1 {
		t.Fatalf("%d spans ended, want the job's", len(ended))
	}
	return spanOf{ended[0].Parent(), ended[0].SpanContext().TraceID(), ended[0].Status().Code}
}

var errPanic = errors.New("panic")

type spanOf struct {
	parent trace.SpanContext
	trace  trace.TraceID
	status codes.Code
}

func TestMiddleware_ContinuesTheTraceTheMessageNames(t *testing.T) {
	tests := []struct {
		name        string
		d           consumer.Delivery
		parentTrace string // "" for a new root
		parentSpan  string
	}{
		{"traceparent attribute", consumer.Delivery{TraceParent: traceParent},
			"4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"},
		{"AWSTraceHeader of an X-Ray sender", consumer.Delivery{AWSTraceHeader: xrayHeader},
			"5759e988bd862e3fe1be46a994272793", "53995c3f42cd8ad8"},
		{"traceparent wins over AWSTraceHeader", consumer.Delivery{TraceParent: traceParent, AWSTraceHeader: xrayHeader},
			"4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"},
		{"malformed traceparent, AWSTraceHeader", consumer.Delivery{TraceParent: "00-zz", AWSTraceHeader: xrayHeader},
			"5759e988bd862e3fe1be46a994272793", "53995c3f42cd8ad8"},
		{"nothing: a new root", consumer.Delivery{}, "", ""},
		{"X-Ray header without a parent: a new root", consumer.Delivery{AWSTraceHeader: "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1"}, "", ""},
		{"X-Ray header of another version: a new root", consumer.Delivery{AWSTraceHeader: "Root=2-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8"}, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := runJob(t, record(t), tt.d, nil)
			if tt.parentTrace == "" {
				if got.parent.IsValid() {
					t.Fatalf("parent %v, want a new root", got.parent)
				}
				return
			}
			if got.trace.String() != tt.parentTrace || got.parent.SpanID().String() != tt.parentSpan || !got.parent.IsRemote() {
				t.Fatalf("trace %s parent %s (remote %t), want trace %s parent %s, remote",
					got.trace, got.parent.SpanID(), got.parent.IsRemote(), tt.parentTrace, tt.parentSpan)
			}
		})
	}
}

func TestMiddleware_StatusIsErrorForFailuresNotForSnoozes(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want codes.Code
	}{
		{"success", nil, codes.Unset},
		{"snooze", consumer.Snooze(time.Minute), codes.Unset},
		{"wrapped snooze", errors.Join(errors.New("later"), consumer.Snooze(time.Minute)), codes.Unset},
		{"failure", errors.New("boom"), codes.Error},
		{"permanent", consumer.Permanent(errors.New("boom")), codes.Error},
		{"panic", errPanic, codes.Error},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := runJob(t, record(t), consumer.Delivery{}, tt.err); got.status != tt.want {
				t.Fatalf("status %s, want %s", got.status, tt.want)
			}
		})
	}
}

func TestProducer_CarriesAContextOnlyWhenThereIsASpan(t *testing.T) {
	send := producer.TracedSend{QueueURL: "http://127.0.0.1/000000000000/q", JobType: "ping", JobIDs: []string{"j"}}

	// No SDK (the global no-op provider) and no span: nothing to carry.
	_, parent, end := tracing.Producer(tracing.WithTracerProvider(noop.NewTracerProvider()))(context.Background(), send)
	end(nil)
	if parent != "" {
		t.Fatalf("without a provider or a span: traceparent %q, want none", parent)
	}

	// An SDK: the send is a new trace's root, and the message carries it.
	s := record(t)
	ctx, parent, end := tracing.Producer(tracing.WithTracerProvider(s.tp))(context.Background(), send)
	end(errors.New("refused"))
	sc := trace.SpanContextFromContext(ctx)
	if want := "00-" + sc.TraceID().String() + "-" + sc.SpanID().String() + "-01"; parent != want {
		t.Fatalf("traceparent %q, want the send span's %q", parent, want)
	}
	sp := s.rec.Ended()[0]
	if sp.Name() != "send ping" || sp.SpanKind() != trace.SpanKindProducer || sp.Status().Code != codes.Error {
		t.Fatalf("span %q kind %s status %s, want \"send ping\", producer, Error", sp.Name(), sp.SpanKind(), sp.Status().Code)
	}
}
