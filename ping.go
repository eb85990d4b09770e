package busywork

import (
	"context"
	"log/slog"
	"time"

	"github.com/busywork/busywork/consumer"
	"github.com/busywork/busywork/jobs"
)

// PingTimeout is how long a ping job may run: its longest work
// (jobs.MaxPingWorkMS) and 5 s more.
const PingTimeout = jobs.MaxPingWorkMS*time.Millisecond + 5*time.Second

// pinger handles ping jobs, which every binary built on the runtime serves
// to smoke-test a deployment: it waits the job's WorkMS (so a load test can
// run jobs of a realistic duration), then logs one line, "ping", with the
// fields job_id, message and work_ms, and succeeds.
type pinger struct {
	// Logger receives the line. nil means slog.Default().
	Logger *slog.Logger
}

// handle waits job.WorkMS milliseconds, logs the ping and returns nil. If
// ctx ends first it returns ctx's error and logs nothing.
func (h *pinger) handle(ctx context.Context, job jobs.Ping) error {
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
