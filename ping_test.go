package busywork

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/busywork/busywork/consumer"
	"github.com/busywork/busywork/jobs"
)

func TestPing_LogsOneLineWithTheJobIDAndMessage(t *testing.T) {
	var buf bytes.Buffer
	h := &pinger{Logger: slog.New(slog.NewJSONHandler(&buf, nil))}
	ctx := consumer.WithDelivery(context.Background(), consumer.Delivery{ID: "job-1", Type: jobs.TypePing})

	if err := h.handle(ctx, jobs.Ping{Message: "hi"}); err != nil {
		t.Fatalf("Handle = %v, want nil", err)
	}
	lines := bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n"))
	if len(lines) != 1 {
		t.Fatalf("logged %d lines, want 1:\n%s", len(lines), buf.Bytes())
	}
	var line struct {
		Level   string `json:"level"`
		Msg     string `json:"msg"`
		JobID   string `json:"job_id"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal(lines[0], &line); err != nil {
		t.Fatal(err)
	}
	if line.Level != "INFO" || line.Msg != "ping" || line.JobID != "job-1" || line.Message != "hi" {
		t.Fatalf("log line = %s, want INFO ping with job_id job-1 and message hi", lines[0])
	}
}

func TestPing_WaitsItsWorkBeforeItLogs(t *testing.T) {
	var buf bytes.Buffer
	h := &pinger{Logger: slog.New(slog.NewJSONHandler(&buf, nil))}
	const work = 50 * time.Millisecond

	start := time.Now()
	if err := h.handle(t.Context(), jobs.Ping{WorkMS: int(work / time.Millisecond)}); err != nil {
		t.Fatalf("Handle = %v, want nil", err)
	}
	if waited := time.Since(start); waited < work {
		t.Fatalf("Handle returned after %s, before its work_ms of %s", waited, work)
	}
	var line struct {
		Time   time.Time `json:"time"`
		WorkMS int       `json:"work_ms"`
	}
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("want one JSON log line: %v\n%s", err, buf.Bytes())
	}
	// slog writes whole milliseconds, so compare with the start's.
	if line.WorkMS != 50 || line.Time.Sub(start.Truncate(time.Millisecond)) < work {
		t.Fatalf("log line = %s, want work_ms 50 logged %s after the start (%s)", buf.Bytes(), work, start.Format(time.RFC3339Nano))
	}
}

func TestPing_StopsWaitingWhenItsContextEnds(t *testing.T) {
	var buf bytes.Buffer
	h := &pinger{Logger: slog.New(slog.NewJSONHandler(&buf, nil))}
	ctx, cancel := context.WithCancel(t.Context())
	const work = jobs.MaxPingWorkMS * time.Millisecond

	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- h.handle(ctx, jobs.Ping{WorkMS: jobs.MaxPingWorkMS}) }()
	cancel()
	err := <-done
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Handle after cancel = %v, want context.Canceled", err)
	}
	// Waiting out the work would take the full minute: returning sooner is
	// the behaviour under test, not a speed.
	if waited := time.Since(start); waited >= work {
		t.Fatalf("Handle returned after %s: it waited out its work instead of its context", waited)
	}
	if buf.Len() != 0 {
		t.Fatalf("a cancelled ping logged %s, want nothing", buf.Bytes())
	}
}
