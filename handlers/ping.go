package handlers

import (
	"context"
	"log/slog"

	"github.com/busywork/busywork/consumer"
	"github.com/busywork/busywork/jobs"
)

// Ping handles ping jobs, which smoke-test a deployment: it logs one line,
// "ping", with the fields job_id and message, and succeeds.
type Ping struct {
	// Logger receives the line. nil means slog.Default().
	Logger *slog.Logger
}

// Handle logs the ping and returns nil.
func (h *Ping) Handle(ctx context.Context, job jobs.Ping) error {
	log := h.Logger
	if log == nil {
		log = slog.Default()
	}
	d, _ := consumer.DeliveryFromContext(ctx)
	log.InfoContext(ctx, "ping", "job_id", d.ID, "message", job.Message)
	return nil
}
