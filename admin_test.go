package busywork

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/busywork/busywork/consumer"
	"github.com/busywork/busywork/internal/secheaders"
	"github.com/busywork/busywork/internal/serve"
	"github.com/busywork/busywork/internal/testenv"
	"github.com/busywork/busywork/jobs"
)

// awaitHealthz polls GET /healthz on addr, as ECS does (nothing signals
// the moment a handler turns hung or returns), until it answers want, and
// returns the body. It fails the test if that takes over a minute: a hang
// detector, not a speed requirement.
func awaitHealthz(t *testing.T, addr string, want int) string {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{}, Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
		resp, err := client.Get("http://" + addr + "/healthz")
		if err != nil {
			t.Fatalf("GET /healthz: %v", err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch {
		case err != nil:
			t.Fatalf("GET /healthz: %v", err)
		case resp.StatusCode == want:
			return string(body)
		case time.Since(start) > time.Minute:
			t.Fatalf("/healthz still answers %d %q after a minute, want %d", resp.StatusCode, body, want)
		}
	}
}

func TestAdmin_HealthzAnswers503WhileHungHandlersHoldTheSlots(t *testing.T) {
	testenv.Require(t)
	client := testenv.SQS(t)
	queue, _ := testenv.NewQueue(t, client, testenv.QueueOptions{})
	if _, err := client.SendMessage(t.Context(), &sqs.SendMessageInput{
		QueueUrl: aws.String(queue), MessageBody: aws.String(`{"type":"ping","message":"stuck"}`),
	}); err != nil {
		t.Fatal(err)
	}

	// One slot, and a handler that ignores its cancellation until the test
	// lets it go: past its timeout and grace it is hung, holding the slot.
	release := make(chan struct{})
	mux := consumer.NewMux()
	consumer.Handle(mux, func(context.Context, jobs.Ping) error {
		<-release
		return nil
	}, consumer.Timeout(100*time.Millisecond))
	log := slog.New(slog.NewJSONHandler(t.Output(), nil))
	cons, err := consumer.New(client, mux, consumer.Config{
		Queues:       []consumer.QueueConfig{{URL: queue, Concurrency: 1}},
		DrainTimeout: 5 * time.Second,
		HungGrace:    100 * time.Millisecond,
		Logger:       log,
	})
	if err != nil {
		t.Fatal(err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		admin := &http.Server{Handler: newAdminHandler(cons.Healthy, prometheus.NewRegistry()), ReadHeaderTimeout: 5 * time.Second}
		done <- serve.While(ctx, admin, ln, "admin server", cons.Run)
	}()

	if body := awaitHealthz(t, addr, http.StatusServiceUnavailable); !strings.Contains(body, "hung") {
		t.Errorf("/healthz with the only slot hung answers 503 %q, want the reason naming the hung handlers", body)
	}
	close(release)
	awaitHealthz(t, addr, http.StatusOK) // the hung handler returned: healthy again
	cancel()
	if err := <-done; err != nil {
		t.Errorf("serve.While = %v, want nil after a clean stop", err)
	}
}

func TestAdmin_EveryAnswerCarriesTheSecurityHeaders(t *testing.T) {
	var sick error
	srv := httptest.NewServer(newAdminHandler(func() error { return sick }, prometheus.NewRegistry()))
	defer srv.Close()
	check := func(what, path string, want int) {
		t.Helper()
		resp, err := srv.Client().Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("%s: %d, want %d", what, resp.StatusCode, want)
		}
		h := resp.Header
		if h.Get("Content-Security-Policy") != secheaders.ContentSecurityPolicy || h.Get("X-Content-Type-Options") != "nosniff" ||
			h.Get("Referrer-Policy") != "no-referrer" || h.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s: headers %v, want the security headers", what, h)
		}
	}
	check("/healthz", "/healthz", http.StatusOK)
	check("/metrics", "/metrics", http.StatusOK)
	check("an unknown path", "/nothing", http.StatusNotFound)
	sick = errors.New("hung handlers hold the slots")
	check("/healthz unhealthy", "/healthz", http.StatusServiceUnavailable)
}
