package consumer

import "time"

// Metrics receives the consumer's measurements as it runs. Package metrics
// records them in Prometheus; a nil Config.Metrics records nothing. The
// consumer calls every method from many goroutines at once, on the path
// of each job, so they must be safe for concurrent use and quick.
type Metrics interface {
	// JobRan records how long a job's handler ran.
	JobRan(lane, jobType string, d time.Duration)
	// JobFinished records a job's outcome (OutcomeSucceeded and the
	// others) once SQS confirmed it, or once the consumer gave up.
	JobFinished(lane, jobType, outcome string)
	// InFlight adds delta to the messages received and not yet settled
	// with SQS.
	InFlight(lane string, delta int)
	// DeadLettered records a job copied to the dead-letter queue.
	DeadLettered(lane, jobType string)
	// DeadLetterFailed records a job whose copy to the dead-letter queue
	// failed.
	DeadLetterFailed(lane, jobType string)
	// Hung adds delta to the handlers running past their deadline and
	// grace.
	Hung(lane string, delta int)
	// Lane tells of a lane when Run starts serving it, with a func that
	// returns the state of its flow control at the moment it is called
	// (for gauges read when metrics are gathered).
	Lane(name string, flow func() Flow)
}

// Flow is a lane's flow control at one moment (see QueueConfig.MaxReceives
// and MaxUnconfirmed).
type Flow struct {
	// Rate is the jobs a second the flow control counts on: the peak rate
	// of finished jobs, decaying.
	Rate float64
	// ReceiveRoundTrip sizes the receives; SettleRoundTrip the deletes
	// that may be unconfirmed.
	ReceiveRoundTrip, SettleRoundTrip time.Duration
	// ReceivesInFlight counts the receives in flight.
	ReceivesInFlight int
	// DeletesUnconfirmed counts the deletes of finished jobs SQS has not
	// confirmed yet, and UnconfirmedLimit is the most there may be now.
	DeletesUnconfirmed, UnconfirmedLimit int
}

// noMetrics records nothing.
type noMetrics struct{}

func (noMetrics) JobRan(string, string, time.Duration) {}
func (noMetrics) JobFinished(string, string, string)   {}
func (noMetrics) InFlight(string, int)                 {}
func (noMetrics) DeadLettered(string, string)          {}
func (noMetrics) DeadLetterFailed(string, string)      {}
func (noMetrics) Hung(string, int)                     {}
func (noMetrics) Lane(string, func() Flow)             {}

// flowNow returns l's flow control now.
func (l *lane) flowNow() Flow {
	p := l.flow.pace()
	_, limit := l.deletes.window()
	return Flow{
		Rate: p.rate, ReceiveRoundTrip: p.receive, SettleRoundTrip: p.settle,
		ReceivesInFlight: int(l.poll.inFlight.Load()), DeletesUnconfirmed: l.deletes.pending(), UnconfirmedLimit: limit,
	}
}
