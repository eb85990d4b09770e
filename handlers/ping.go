package handlers

import (
	"context"
	"log/slog"
	"time"

	"github.com/busywork/busywork/consumer"
	"github.com/busywork/busywork/jobs"
)

// Ping handles ping jobs, which smoke-test a deployment: it waits the job's
// WorkMS (so a load test can run jobs of a realistic duration), then logs
// one line, "ping", with the fields job_id, message and work_ms, and
// succeeds.
type Ping struct {
	// Logger receives the line. nil means slog.Default().
	Logger *slog.Logger
}

// Handle waits job.WorkMS milliseconds, logs the ping and returns nil. If
// ctx ends first it returns ctx's error and logs nothing.
func (h *Ping) Handle(ctx context.Context, job jobs.Ping) error {
	if job.WorkMS > 0 {
		t := time.NewTimer(time.Duration(job.WorkMS) * time.Millisecond)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	log := h.Logger
	if log == nil {
		log = slog.Default()
	}
	d, _ := consumer.DeliveryFromContext(ctx)
	log.InfoContext(ctx, "ping", "job_id", d.ID, "message", job.Message, "work_ms", job.WorkMS)
	return nil
}
