package webapp_test

import (
	"net/http"
	"strings"
	"testing"
)

func TestMetrics_CountRequestsByRoutePatternAndStatusCode(t *testing.T) {
	e := newEnv(t, envOptions{})
	e.get(t, "/healthz")
	e.get(t, "/healthz")
	e.get(t, "/orders/no-such-order")
	e.get(t, "/nothing-here")
	do(t, newRequest(t, http.MethodPut, e.srv.URL+"/healthz", "", ""))

	m := e.get(t, "/metrics")
	if m.status != http.StatusOK || !strings.HasPrefix(m.contentType, "text/plain") {
		t.Fatalf("GET /metrics: %d %s, want 200 text/plain", m.status, m.contentType)
	}
	e.assertMetric(t, `busywork_web_requests_total{code="200",route="GET /healthz"}`, 2)
	e.assertMetric(t, `busywork_web_requests_total{code="404",route="GET /orders/{id}"}`, 1)
	e.assertMetric(t, `busywork_web_requests_total{code="404",route="unmatched"}`, 1)
	e.assertMetric(t, `busywork_web_requests_total{code="405",route="unmatched"}`, 1)
}
