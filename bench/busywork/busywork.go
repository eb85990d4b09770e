//go:build linux

// Package busywork is BenchmarkDrain's child that serves with busywork's
// consumer: its test binary, run as TestHelperProcess, is the child.
package busywork

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/busywork/busywork/bench/internal/drain"
	"github.com/busywork/busywork/consumer"
	"github.com/busywork/busywork/metrics"
)

// Consume serves s with busywork's consumer as a worker would run it: one
// queue with s.concurrency slots and the defaults otherwise (the 20 s
// long poll, flow control up to 100 receives and 1000 unconfirmed
// deletes), metrics on, and its per-job JSON log line written to
// io.Discard (warnings and errors are noted as problems). DrainTimeout
// 2 s keeps its stop short: a long poll still waiting on the empty queue
// then is cancelled.
func Consume(ctx context.Context, s drain.Setup) error {
	mux := consumer.NewMux()
	consumer.Handle(mux, s.Handle)
	c, err := consumer.New(s.Client, mux, consumer.Config{
		Queues:       []consumer.QueueConfig{{URL: s.QueueURL, Concurrency: s.Concurrency}},
		DrainTimeout: 2 * time.Second,
		Logger:       slog.New(&warnings{next: slog.NewJSONHandler(io.Discard, nil), problems: s.Problems}),
		Metrics:      metrics.NewConsumer(prometheus.NewRegistry()),
	})
	if err != nil {
		return err
	}
	return c.Run(ctx)
}

// warnings is a slog.Handler that passes every record on to next and
// notes those of level Warn and above as problems.
type warnings struct {
	next     slog.Handler
	problems *drain.Problems
}

func (w *warnings) Enabled(ctx context.Context, l slog.Level) bool { return w.next.Enabled(ctx, l) }

func (w *warnings) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn {
		var sb strings.Builder
		sb.WriteString("busywork: " + r.Level.String() + " " + r.Message)
		r.Attrs(func(a slog.Attr) bool {
			sb.WriteString(" " + a.String())
			return true
		})
		w.problems.Add(sb.String())
	}
	return w.next.Handle(ctx, r)
}

func (w *warnings) WithAttrs(as []slog.Attr) slog.Handler {
	return &warnings{next: w.next.WithAttrs(as), problems: w.problems}
}

func (w *warnings) WithGroup(name string) slog.Handler {
	return &warnings{next: w.next.WithGroup(name), problems: w.problems}
}
