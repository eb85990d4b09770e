package consumer

import (
	"context"
	"sync"
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
	flows        *flowCollector
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
//	busywork_flow_rate{lane}                         jobs a second the lane's flow control counts on
//	busywork_flow_receive_round_trip_seconds{lane}   the shortest recent round trip of a receive
//	busywork_flow_settle_round_trip_seconds{lane}    ... of a delete or visibility change
//	busywork_receives_in_flight{lane}                receives in flight now
//	busywork_deletes_unconfirmed{lane}               deletes of finished jobs not yet confirmed by SQS
//	busywork_deletes_unconfirmed_limit{lane}         the most that may be unconfirmed now
//
// The last six are read when metrics are gathered; see MaxReceives and
// MaxUnconfirmed for what they steer.
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
		flows: newFlowCollector(),
	}
	reg.MustRegister(m.jobs, m.duration, m.inFlight, m.deadLettered, m.dlqFailures, m.hung, m.requests, m.flows)
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

// flowCollector reports the flow control of the lanes it watches when
// metrics are gathered, so that the hot path records nothing.
type flowCollector struct {
	rate, receiveRTT, settleRTT, receives, unconfirmed, limit *prometheus.Desc

	mu    sync.Mutex
	lanes map[string]*lane
}

func newFlowCollector() *flowCollector {
	desc := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, []string{"lane"}, nil)
	}
	return &flowCollector{
		rate:        desc("busywork_flow_rate", "Jobs a second the lane's flow control counts on: the peak rate of finished jobs, decaying."),
		receiveRTT:  desc("busywork_flow_receive_round_trip_seconds", "The shortest recent round trip of the lane's receives."),
		settleRTT:   desc("busywork_flow_settle_round_trip_seconds", "The shortest recent round trip of the lane's deletes and visibility changes."),
		receives:    desc("busywork_receives_in_flight", "Receives in flight."),
		unconfirmed: desc("busywork_deletes_unconfirmed", "Deletes of finished jobs that SQS has not confirmed yet."),
		limit:       desc("busywork_deletes_unconfirmed_limit", "The most deletes that may be unconfirmed now (MaxUnconfirmed, or less at a lower pace)."),
		lanes:       make(map[string]*lane),
	}
}

// Describe implements prometheus.Collector.
func (f *flowCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{f.rate, f.receiveRTT, f.settleRTT, f.receives, f.unconfirmed, f.limit} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (f *flowCollector) Collect(ch chan<- prometheus.Metric) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for name, l := range f.lanes {
		p := l.flow.pace()
		_, limit := l.deletes.window()
		for _, v := range []struct {
			d *prometheus.Desc
			v float64
		}{
			{f.rate, p.rate}, {f.receiveRTT, p.receive.Seconds()}, {f.settleRTT, p.settle.Seconds()},
			{f.receives, float64(l.poll.inFlight.Load())},
			{f.unconfirmed, float64(l.deletes.pending())}, {f.limit, float64(limit)},
		} {
			ch <- prometheus.MustNewConstMetric(v.d, prometheus.GaugeValue, v.v, name)
		}
	}
}

// watch reports l's flow from now on, in place of an earlier lane of the
// same name.
func (m *Metrics) watch(l *lane) {
	if m != nil {
		m.flows.mu.Lock()
		m.flows.lanes[l.name] = l
		m.flows.mu.Unlock()
	}
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
