package tracing_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/busywork/busywork/consumer"
	"github.com/busywork/busywork/internal/testenv"
	"github.com/busywork/busywork/tracing"
)

// spans records the spans of an SDK TracerProvider.
type spans struct {
	t   *testing.T
	rec *tracetest.SpanRecorder
	tp  *sdktrace.TracerProvider
}

// recordGlobally installs a TracerProvider that records every span as the
// global one (what otelhttp and the package's defaults use) for the
// test's duration. Tests that call it must not run in parallel.
func recordGlobally(t *testing.T) *spans {
	s := record(t)
	otel.SetTracerProvider(s.tp)
	t.Cleanup(func() { otel.SetTracerProvider(noop.NewTracerProvider()) })
	return s
}

// record returns a TracerProvider that records every span, for the test.
func record(t *testing.T) *spans {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() {
		if err := tp.Shutdown(context.Background()); err != nil {
			t.Errorf("shut the tracer provider down: %v", err)
		}
	})
	return &spans{t: t, rec: rec, tp: tp}
}

// await waits up to 30 s for an ended span that match accepts, and
// returns it.
func (s *spans) await(what string, match func(sdktrace.ReadOnlySpan) bool) sdktrace.ReadOnlySpan {
	s.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		for _, sp := range s.rec.Ended() {
			if match(sp) {
				return sp
			}
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("no span %s within 30 s; ended:\n%s", what, s.dump())
		}
		time.Sleep(50 * time.Millisecond) // polling the recorder
	}
}

// named returns the ended spans called name.
func (s *spans) named(name string) []sdktrace.ReadOnlySpan {
	var out []sdktrace.ReadOnlySpan
	for _, sp := range s.rec.Ended() {
		if sp.Name() == name {
			out = append(out, sp)
		}
	}
	return out
}

// dump lists the ended spans, for failure messages.
func (s *spans) dump() string {
	var b strings.Builder
	for _, sp := range s.rec.Ended() {
		fmt.Fprintf(&b, "  %-28s %-9s trace %s span %s parent %s\n", sp.Name(), sp.SpanKind(),
			sp.SpanContext().TraceID(), sp.SpanContext().SpanID(), sp.Parent().SpanID())
	}
	return b.String()
}

// name matches spans called n.
func name(n string) func(sdktrace.ReadOnlySpan) bool {
	return func(sp sdktrace.ReadOnlySpan) bool { return sp.Name() == n }
}

// childOf matches spans called n whose parent is parent.
func childOf(n string, parent trace.SpanContext) func(sdktrace.ReadOnlySpan) bool {
	return func(sp sdktrace.ReadOnlySpan) bool {
		return sp.Name() == n && sp.Parent().SpanID() == parent.SpanID() && sp.SpanContext().TraceID() == parent.TraceID()
	}
}

// attr returns the value of sp's attribute key.
func attr(sp sdktrace.ReadOnlySpan, key string) (attribute.Value, bool) {
	for _, kv := range sp.Attributes() {
		if string(kv.Key) == key {
			return kv.Value, true
		}
	}
	return attribute.Value{}, false
}

// tracedAWS returns the emulators' AWS configuration with tracing.AWS on
// it, as the runtime sets it up when tracing is on.
func tracedAWS(t *testing.T) aws.Config {
	cfg := testenv.AWSConfig(t)
	tracing.AWS(&cfg)
	return cfg
}

// serve runs a consumer of queueURL with mux until the test ends; its
// client is traced as the runtime's is.
func serve(t *testing.T, client *sqs.Client, mux *consumer.Mux, queueURL string, cfg consumer.Config) {
	t.Helper()
	cfg.Queues = []consumer.QueueConfig{{URL: queueURL}}
	cfg.WaitTime = time.Second
	cfg.DrainTimeout = 5 * time.Second
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	c, err := consumer.New(client, mux, cfg)
	if err != nil {
		t.Fatal(err)
	}
	testenv.Background(t, "consumer", c.Run)
}
