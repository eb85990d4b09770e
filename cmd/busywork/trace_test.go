package main_test

import (
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	"google.golang.org/protobuf/proto"

	"github.com/busywork/busywork/internal/testenv"
	"github.com/busywork/busywork/jobs"
	"github.com/busywork/busywork/producer"
)

// exportedSpan is a span as an OTLP collector receives it.
type exportedSpan struct {
	service, name         string
	trace, span, parentID string
}

// collector is an OTLP/HTTP trace receiver on the loopback, standing in
// for an OpenTelemetry collector.
type collector struct {
	t        *testing.T
	url      string
	mu       sync.Mutex
	spans    []exportedSpan
	requests int
}

func newCollector(t *testing.T) *collector {
	c := &collector{t: t}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		var req coltracepb.ExportTraceServiceRequest
		if err == nil {
			err = proto.Unmarshal(body, &req)
		}
		if r.URL.Path != "/v1/traces" || err != nil {
			t.Errorf("collector: %s %s: %v", r.Method, r.URL.Path, err)
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		c.mu.Lock()
		c.requests++
		for _, rs := range req.GetResourceSpans() {
			var service string
			for _, kv := range rs.GetResource().GetAttributes() {
				if kv.GetKey() == "service.name" {
					service = kv.GetValue().GetStringValue()
				}
			}
			for _, ss := range rs.GetScopeSpans() {
				for _, s := range ss.GetSpans() {
					c.spans = append(c.spans, exportedSpan{service, s.GetName(),
						hex.EncodeToString(s.GetTraceId()), hex.EncodeToString(s.GetSpanId()), hex.EncodeToString(s.GetParentSpanId())})
				}
			}
		}
		c.mu.Unlock()
		resp, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		_, _ = w.Write(resp)
	}))
	t.Cleanup(srv.Close)
	c.url = srv.URL
	return c
}

// env points a command's traces at the collector, exported within 100 ms.
func (c *collector) env() []string {
	return []string{"OTEL_EXPORTER_OTLP_ENDPOINT=" + c.url, "OTEL_BSP_SCHEDULE_DELAY=100"}
}

// await waits up to 30 s for a span that match accepts.
func (c *collector) await(what string, match func(exportedSpan) bool) exportedSpan {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c.mu.Lock()
		spans := append([]exportedSpan(nil), c.spans...)
		c.mu.Unlock()
		for _, s := range spans {
			if match(s) {
				return s
			}
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("the collector got no span %s within 30 s; it got %+v", what, spans)
		}
		time.Sleep(50 * time.Millisecond) // polling what was exported
	}
}

func TestTraces_TheWebAppAndTheWorkerExportOneTraceFromTheLoginToSendEmail(t *testing.T) {
	testenv.Require(t)
	c := newCollector(t)
	email := strings.ToLower(testenv.UniqueName(t, "ada", 40)) + "@example.com"
	base := startWebAndWorker(t, email, c.env()...)
	since := time.Now().Add(-time.Second)

	resp, body := webRequest(t, http.MethodPost, base+"/auth/magic-link", url.Values{"email": {email}}, nil)
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("login POST: %s:\n%s", resp.Status, body)
	}
	awaitToken(t, since, email)

	request := c.await("POST /auth/magic-link", func(s exportedSpan) bool { return s.name == "POST /auth/magic-link" })
	inTrace := func(name string, parent exportedSpan) func(exportedSpan) bool {
		return func(s exportedSpan) bool {
			return s.name == name && s.trace == request.trace && s.parentID == parent.span
		}
	}
	send := c.await("send magic_link in the request's trace", inTrace("send magic_link", request))
	job := c.await("process magic_link under the send", inTrace("process magic_link", send))
	mail := c.await("SESv2.SendEmail under the job", inTrace("SESv2.SendEmail", job))
	for _, s := range []exportedSpan{request, send, job, mail} {
		if s.service != "busywork" {
			t.Errorf("span %s of service %q, want busywork (the App's name, as OTEL_SERVICE_NAME is not set)", s.name, s.service)
		}
	}
}

func TestTraces_WithoutAnOTLPEndpointNothingIsTracedOrAddedToMessages(t *testing.T) {
	testenv.Require(t)
	c := newCollector(t)
	urls := newLanes(t, testenv.QueueOptions{NoDLQ: true})
	env := laneEnv(urls)

	traceparent := func(env []string) string {
		t.Helper()
		if r := runBusywork(t, env, "send", "ping", `{"message":"hi"}`); r.code != 0 {
			t.Fatalf("send: exit %d, stderr:\n%s", r.code, r.stderr)
		}
		msgs := testenv.ReceiveAll(t.Context(), t, testenv.SQS(t), urls[producer.LaneDefault], 1, 10*time.Second)
		return testenv.Attr(msgs[0], jobs.AttrTraceParent)
	}
	if got := traceparent(env); got != "" {
		t.Errorf("without OTEL_EXPORTER_OTLP_ENDPOINT the message carries traceparent %q, want nothing", got)
	}
	c.mu.Lock()
	requests := c.requests
	c.mu.Unlock()
	if requests != 0 {
		t.Errorf("the collector got %d requests from a command without an endpoint", requests)
	}
	got := traceparent(append(env, c.env()...))
	send := c.await("send ping", func(s exportedSpan) bool { return s.name == "send ping" })
	if want := "00-" + send.trace + "-" + send.span + "-01"; got != want {
		t.Errorf("with an endpoint: traceparent %q, want the send span's %q", got, want)
	}
	if send.parentID != "" {
		t.Errorf("the send of a command is a trace's root; its parent is %s", send.parentID)
	}
}

func TestTraces_SettingsTheRuntimeCannotHonourExitTwo(t *testing.T) {
	for _, bad := range [][]string{
		{"OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4317", "OTEL_EXPORTER_OTLP_PROTOCOL=grpc"},
		{"OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318", "OTEL_TRACES_EXPORTER=zipkin"},
	} {
		r := runBusywork(t, bad, "version")
		name := bad[1][:strings.IndexByte(bad[1], '=')]
		if r.code != 2 || !strings.Contains(r.stderr, name) {
			t.Errorf("%v: exit %d, stderr %q; want 2 naming %s", bad, r.code, r.stderr, name)
		}
	}
	// Tracing off, whatever the endpoint says.
	for _, off := range []string{"OTEL_SDK_DISABLED=true", "OTEL_TRACES_EXPORTER=none"} {
		if r := runBusywork(t, []string{"OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:1", off}, "version"); r.code != 0 {
			t.Errorf("%s: exit %d, stderr %q; want 0", off, r.code, r.stderr)
		}
	}
}
