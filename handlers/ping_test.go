package handlers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"github.com/busywork/busywork/consumer"
	"github.com/busywork/busywork/ddb"
	"github.com/busywork/busywork/handlers"
	"github.com/busywork/busywork/jobs"
)

func TestPing_LogsOneLineWithTheJobIDAndMessage(t *testing.T) {
	var buf bytes.Buffer
	h := &handlers.Ping{Logger: slog.New(slog.NewJSONHandler(&buf, nil))}
	ctx := consumer.WithDelivery(context.Background(), consumer.Delivery{ID: "job-1", Type: jobs.TypePing})

	if err := h.Handle(ctx, jobs.Ping{Message: "hi"}); err != nil {
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

func TestRegister_HandlesPingAndMagicLinksWhenTheirDependenciesAreGiven(t *testing.T) {
	mux := consumer.NewMux()
	handlers.Register(mux, handlers.Deps{})
	if got := mux.Types(); !slices.Equal(got, []string{jobs.TypePing}) {
		t.Fatalf("without a store and a mailer, registered types = %v, want only ping", got)
	}
	mux = consumer.NewMux()
	handlers.Register(mux, handlers.Deps{Store: &ddb.Store{}, Mail: &sesv2.Client{}})
	if got := mux.Types(); !slices.Equal(got, []string{jobs.TypeMagicLink, jobs.TypePing}) {
		t.Fatalf("registered types = %v, want magic_link and ping", got)
	}
}
