package consumer

import (
	"context"
	"time"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go/middleware"
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics holds the consumer's Prometheus metrics, all prefixed busywork_.
// A nil *Metrics records nothing.
type Metrics struct {
	jobs         *prometheus.CounterVec
	duration     *prometheus.HistogramVec
	inFlight     *prometheus.GaugeVec
	deadLettered *prometheus.CounterVec
	hung         *prometheus.GaugeVec
	requests     *prometheus.CounterVec
	dlqFailures  *prometheus.CounterVec
}

// NewMetrics creates the consumer's metrics and registers them with reg:
//
//	busywork_jobs_total{lane,type,outcome}           jobs finished, by outcome
//	busywork_job_duration_seconds{lane,type}         handler run time
//	busywork_jobs_in_flight{lane}                    messages received and not yet settled with SQS
//	busywork_jobs_dead_lettered_total{lane,type}     jobs sent to the DLQ
//	busywork_dead_letter_failures_total{lane,type}   copies to the DLQ that failed
//	busywork_handlers_hung{lane}                     handlers past deadline and grace
//	busywork_sqs_requests_total{operation}           SQS API requests (see InstrumentSQS)
//
// The type label is "unknown" for job types without a handler, so made-up
// types cannot grow the set of series.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "busywork_jobs_total", Help: "Jobs finished, by lane, type and outcome.",
		}, []string{"lane", "type", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "busywork_job_duration_seconds", Help: "How long handlers ran.",
			Buckets: []float64{.001, .005, .025, .1, .5, 1, 2.5, 5, 10, 30, 60, 300},
		}, []string{"lane", "type"}),
		inFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "busywork_jobs_in_flight", Help: "Jobs received and not yet settled with SQS.",
		}, []string{"lane"}),
		deadLettered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "busywork_jobs_dead_lettered_total", Help: "Jobs the consumer sent to the dead-letter queue.",
		}, []string{"lane", "type"}),
		hung: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "busywork_handlers_hung", Help: "Handlers still running past their deadline and grace.",
		}, []string{"lane"}),
		dlqFailures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "busywork_dead_letter_failures_total", Help: "Jobs that failed for good whose copy to the dead-letter queue failed; they wait for the redrive policy.",
		}, []string{"lane", "type"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "busywork_sqs_requests_total", Help: "SQS API requests sent, retries included, by operation.",
		}, []string{"operation"}),
	}
	reg.MustRegister(m.jobs, m.duration, m.inFlight, m.deadLettered, m.dlqFailures, m.hung, m.requests)
	return m
}

// InstrumentSQS counts every request the SQS client sends, retries
// included, in busywork_sqs_requests_total. Pass it to sqs.NewFromConfig:
//
//	client := sqs.NewFromConfig(cfg, metrics.InstrumentSQS)
func (m *Metrics) InstrumentSQS(o *sqs.Options) {
	o.APIOptions = append(o.APIOptions, func(stack *middleware.Stack) error {
		return stack.Finalize.Add(middleware.FinalizeMiddlewareFunc("busyworkCountRequests",
			func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
				m.requests.WithLabelValues(awsmiddleware.GetOperationName(ctx)).Inc()
				return next.HandleFinalize(ctx, in)
			}), middleware.After)
	})
}

func (m *Metrics) finished(queue, typ, outcome string) {
	if m != nil {
		m.jobs.WithLabelValues(queue, typ, outcome).Inc()
	}
}

func (m *Metrics) ran(queue, typ string, d time.Duration) {
	if m != nil {
		m.duration.WithLabelValues(queue, typ).Observe(d.Seconds())
	}
}

func (m *Metrics) inFlightAdd(queue string, n int) {
	if m != nil {
		m.inFlight.WithLabelValues(queue).Add(float64(n))
	}
}

func (m *Metrics) deadLetter(queue, typ string) {
	if m != nil {
		m.deadLettered.WithLabelValues(queue, typ).Inc()
	}
}

func (m *Metrics) deadLetterFailed(queue, typ string) {
	if m != nil {
		m.dlqFailures.WithLabelValues(queue, typ).Inc()
	}
}

func (m *Metrics) hungAdd(queue string, n int) {
	if m != nil {
		m.hung.WithLabelValues(queue).Add(float64(n))
	}
}
