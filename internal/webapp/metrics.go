package webapp

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/busywork/busywork/jobs"
	"github.com/busywork/busywork/producer"
)

// Outcomes of a send, the outcome label of busywork_web_send_duration_seconds.
const (
	sendSent    = "sent"    // SQS took the job
	sendFailed  = "failed"  // SQS did not take it in time: the request answered 503
	sendRefused = "refused" // refused before any network call (invalid, too large)
)

// routeUnmatched is the route label of requests no route matched (404, 405).
const routeUnmatched = "unmatched"

// metrics holds the app's Prometheus metrics, all prefixed busywork_web_.
// A nil *metrics records nothing.
type metrics struct {
	requests     *prometheus.CounterVec
	sendDuration *prometheus.HistogramVec
	sendFailures *prometheus.CounterVec
}

// newMetrics creates the app's metrics and registers them with reg:
//
//	busywork_web_requests_total{route,code}             requests answered, by route pattern and status code
//	busywork_web_send_duration_seconds{type,outcome}    how long producer.Send took, by job type and outcome
//	busywork_web_send_failures_total{type}              sends SQS did not take in time (each answered 503)
func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "busywork_web_requests_total", Help: "Requests answered by the web app, by route pattern and status code.",
		}, []string{"route", "code"}),
		sendDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "busywork_web_send_duration_seconds", Help: "How long the web app's job sends took, SDK retries included, by job type and outcome (sent, failed, refused).",
			Buckets: []float64{.0025, .005, .01, .025, .05, .1, .25, .5, .75, 1, 1.5},
		}, []string{"type", "outcome"}),
		sendFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "busywork_web_send_failures_total", Help: "Job sends SQS did not take within the deadline; each request answered 503.",
		}, []string{"type"}),
	}
	reg.MustRegister(m.requests, m.sendDuration, m.sendFailures)
	return m
}

// request counts one answered request. route is the pattern that matched
// (http.Request.Pattern), empty for none.
func (m *metrics) request(route string, code int) {
	if m == nil {
		return
	}
	if route == "" {
		route = routeUnmatched
	}
	m.requests.WithLabelValues(route, strconv.Itoa(code)).Inc()
}

// sent records one Send of a job of type typ that took d and returned err.
func (m *metrics) sent(typ string, d time.Duration, err error) {
	if m == nil {
		return
	}
	outcome := sendSent
	switch {
	case err == nil:
	case errors.Is(err, producer.ErrInvalidJob), errors.Is(err, producer.ErrTooLarge), errors.Is(err, producer.ErrInvalidDelay):
		outcome = sendRefused
	default:
		outcome = sendFailed
		m.sendFailures.WithLabelValues(typ).Inc()
	}
	m.sendDuration.WithLabelValues(typ, outcome).Observe(d.Seconds())
}

// meteredSender records every Send of next in m.
type meteredSender struct {
	next Sender
	m    *metrics
}

// Send sends job through next and records how long it took and how it
// ended.
func (s meteredSender) Send(ctx context.Context, job jobs.Job, opts ...producer.SendOption) (string, error) {
	start := time.Now()
	id, err := s.next.Send(ctx, job, opts...)
	typ := ""
	if job != nil {
		typ = job.Type()
	}
	s.m.sent(typ, time.Since(start), err)
	return id, err
}

// statusRecorder keeps the status code a handler answered.
type statusRecorder struct {
	http.ResponseWriter
	code        int
	wroteHeader bool
}

// WriteHeader records the first code written and writes code.
func (r *statusRecorder) WriteHeader(code int) {
	if !r.wroteHeader {
		r.code, r.wroteHeader = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

// Write writes b, after an implicit 200 if no code was written.
func (r *statusRecorder) Write(b []byte) (int, error) {
	if !r.wroteHeader {
		r.code, r.wroteHeader = http.StatusOK, true
	}
	return r.ResponseWriter.Write(b)
}

// Unwrap returns the wrapped writer, for http.ResponseController.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
