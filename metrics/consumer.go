// Package metrics records busywork's measurements in Prometheus: the
// consumer's jobs and flow control (Consumer, which implements
// consumer.Metrics) and the SQS requests a client sends (InstrumentSQS).
// busywork's runtime serves them on the worker's /metrics; a program that
// runs a consumer.Consumer itself passes one to consumer.Config:
//
//	reg := prometheus.NewRegistry()
//	m := metrics.NewConsumer(reg)
//	client := sqs.NewFromConfig(awsCfg, m.InstrumentSQS)
//	c, err := consumer.New(client, mux, consumer.Config{Queues: queues, Metrics: m})
package metrics

import (
	"context"
	"sync"
	"time"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go/middleware"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/busywork/busywork/consumer"
)

// Consumer holds a consumer's Prometheus metrics, all prefixed busywork_.
// It implements consumer.Metrics.
type Consumer struct {
	jobs         *prometheus.CounterVec
	duration     *prometheus.HistogramVec
	inFlight     *prometheus.GaugeVec
	deadLettered *prometheus.CounterVec
	hung         *prometheus.GaugeVec
	requests     *prometheus.CounterVec
	dlqFailures  *prometheus.CounterVec
	flows        *flowCollector
}

var _ consumer.Metrics = (*Consumer)(nil)

// NewConsumer creates a consumer's metrics and registers them with reg:
//
//	busywork_jobs_total{lane,type,outcome}           jobs finished, by outcome
//	busywork_job_duration_seconds{lane,type}         handler run time
//	busywork_jobs_in_flight{lane}                    messages received and not yet settled with SQS
//	busywork_jobs_dead_lettered_total{lane,type}     jobs sent to the DLQ
//	busywork_dead_letter_failures_total{lane,type}   copies to the DLQ that failed
//	busywork_handlers_hung{lane}                     handlers past deadline and grace
//	busywork_sqs_requests_total{operation}           SQS API requests (see InstrumentSQS)
//	busywork_flow_rate{lane}                         jobs a second the lane's flow control counts on
//	busywork_flow_receive_round_trip_seconds{lane}   the round trip that sizes its receives
//	busywork_flow_settle_round_trip_seconds{lane}    ... and its unconfirmed deletes
//	busywork_receives_in_flight{lane}                receives in flight now
//	busywork_deletes_unconfirmed{lane}               deletes of finished jobs not yet confirmed by SQS
//	busywork_deletes_unconfirmed_limit{lane}         the most that may be unconfirmed now
//
// The last six are read when metrics are gathered. The consumer labels a
// job type without a handler "unknown", so made-up types cannot grow the
// set of series.
func NewConsumer(reg prometheus.Registerer) *Consumer {
	m := &Consumer{
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
			Name: "busywork_dead_letter_failures_total", Help: "Jobs that failed for good whose copy to the dead-letter queue failed; they are parked on their queue.",
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
//	client := sqs.NewFromConfig(cfg, m.InstrumentSQS)
func (m *Consumer) InstrumentSQS(o *sqs.Options) {
	o.APIOptions = append(o.APIOptions, func(stack *middleware.Stack) error {
		return stack.Finalize.Add(middleware.FinalizeMiddlewareFunc("busyworkCountRequests",
			func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
				m.requests.WithLabelValues(awsmiddleware.GetOperationName(ctx)).Inc()
				return next.HandleFinalize(ctx, in)
			}), middleware.After)
	})
}

// JobRan implements consumer.Metrics.
func (m *Consumer) JobRan(lane, jobType string, d time.Duration) {
	m.duration.WithLabelValues(lane, jobType).Observe(d.Seconds())
}

// JobFinished implements consumer.Metrics.
func (m *Consumer) JobFinished(lane, jobType, outcome string) {
	m.jobs.WithLabelValues(lane, jobType, outcome).Inc()
}

// InFlight implements consumer.Metrics.
func (m *Consumer) InFlight(lane string, delta int) {
	m.inFlight.WithLabelValues(lane).Add(float64(delta))
}

// DeadLettered implements consumer.Metrics.
func (m *Consumer) DeadLettered(lane, jobType string) {
	m.deadLettered.WithLabelValues(lane, jobType).Inc()
}

// DeadLetterFailed implements consumer.Metrics.
func (m *Consumer) DeadLetterFailed(lane, jobType string) {
	m.dlqFailures.WithLabelValues(lane, jobType).Inc()
}

// Hung implements consumer.Metrics.
func (m *Consumer) Hung(lane string, delta int) {
	m.hung.WithLabelValues(lane).Add(float64(delta))
}

// Lane implements consumer.Metrics: the lane's flow control is reported
// when metrics are gathered, in place of an earlier lane of that name.
func (m *Consumer) Lane(name string, flow func() consumer.Flow) {
	m.flows.mu.Lock()
	defer m.flows.mu.Unlock()
	m.flows.lanes[name] = flow
}

// flowCollector reports the flow control of the lanes it knows when
// metrics are gathered, so that the path of a job records nothing.
type flowCollector struct {
	rate, receiveRTT, settleRTT, receives, unconfirmed, limit *prometheus.Desc

	mu    sync.Mutex
	lanes map[string]func() consumer.Flow
}

func newFlowCollector() *flowCollector {
	desc := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, []string{"lane"}, nil)
	}
	return &flowCollector{
		rate:        desc("busywork_flow_rate", "Jobs a second the lane's flow control counts on: the peak rate of finished jobs, decaying."),
		receiveRTT:  desc("busywork_flow_receive_round_trip_seconds", "The round trip that sizes the lane's receives."),
		settleRTT:   desc("busywork_flow_settle_round_trip_seconds", "The smoothed round trip of the lane's deletes and visibility changes, which sizes its unconfirmed deletes."),
		receives:    desc("busywork_receives_in_flight", "Receives in flight."),
		unconfirmed: desc("busywork_deletes_unconfirmed", "Deletes of finished jobs that SQS has not confirmed yet."),
		limit:       desc("busywork_deletes_unconfirmed_limit", "The most deletes that may be unconfirmed now (MaxUnconfirmed, or less at a lower pace)."),
		lanes:       make(map[string]func() consumer.Flow),
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
	for name, flow := range f.lanes {
		fl := flow()
		for _, v := range []struct {
			d *prometheus.Desc
			v float64
		}{
			{f.rate, fl.Rate}, {f.receiveRTT, fl.ReceiveRoundTrip.Seconds()}, {f.settleRTT, fl.SettleRoundTrip.Seconds()},
			{f.receives, float64(fl.ReceivesInFlight)}, {f.unconfirmed, float64(fl.DeletesUnconfirmed)}, {f.limit, float64(fl.UnconfirmedLimit)},
		} {
			ch <- prometheus.MustNewConstMetric(v.d, prometheus.GaugeValue, v.v, name)
		}
	}
}
