package consumer

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/busywork/busywork/jobs"
)

// Reasons a message is dead-lettered before any handler runs.
var (
	ErrUnknownType = errors.New("no handler for job type")
	ErrUnsigned    = errors.New("message has no signature")
	ErrForged      = errors.New("message signature does not match its body")
)

// work is one of the lane's Concurrency workers: it runs the handlers of
// the messages the pollers queue, one at a time, until ready is closed and
// empty. Once the drain is over it releases what it takes instead.
func (l *lane) work(jobsCtx context.Context) {
	defer l.workers.done()
	for m := range l.ready {
		took := l.c.now()
		select {
		case <-l.draining:
			l.finish(m, result{outcome: OutcomeReleased, err: ErrShuttingDown})
		default:
			l.process(jobsCtx, m)
		}
		l.flow.finished(l.c.now().Sub(took))
		l.poll.release(1)
	}
}

// process prepares and runs m's handler and settles m by its result.
func (l *lane) process(jobsCtx context.Context, m *message) {
	if reason, ok := parked(m.msg); ok {
		// Its job failed for good before; only the copy to the DLQ did not
		// happen. Try that again rather than the job.
		l.finish(m, result{outcome: OutcomeDeadLettered, err: reason})
		return
	}
	job, timeout, err := l.prepare(m)
	if err != nil {
		l.finish(m, result{outcome: OutcomeDeadLettered, err: err})
		return
	}
	grace := l.c.cfg.HungGrace
	start := l.c.now()
	// Never run past SQS's 12 hours from the receive: the message would
	// show again while its handler still runs.
	run := min(timeout, l.remaining(m)-grace-l.firstLease)
	ctx, cancel := context.WithCancelCause(context.WithValue(jobsCtx, deliveryKey{}, &m.delivery))
	defer cancel(nil) // also unlinks ctx from jobsCtx, which outlives it
	ctx, cancelDeadline := context.WithTimeout(ctx, run)
	defer cancelDeadline()
	m.mu.Lock()
	if m.state != stateQueued { // its lease was lost while it waited
		m.mu.Unlock()
		cancel(ErrLeaseLost)
		return
	}
	m.state = stateRunning
	m.until = start.Add(run + grace)
	m.cancel = cancel
	m.mu.Unlock()

	hung := make(chan bool, 1)
	watchdog := time.AfterFunc(run+grace, func() {
		settled := l.finish(m, result{
			outcome: OutcomeHung,
			err:     fmt.Errorf("handler still running %s after its %s deadline", grace, run),
			delay:   l.backoff(m),
		})
		if settled {
			l.c.hung.Add(1)
			l.c.cfg.Metrics.Hung(l.name, 1)
		}
		hung <- settled
	})

	l.handling.Add(1)
	err = call(ctx, job)
	l.handling.Add(-1)
	ran := l.c.now().Sub(start)
	l.c.cfg.Metrics.JobRan(l.name, l.c.typeLabel(m.delivery.Type), ran)
	if !watchdog.Stop() && <-hung {
		l.c.hung.Add(-1)
		l.c.cfg.Metrics.Hung(l.name, -1)
		l.log.Warn("hung handler returned", "job_id", m.delivery.ID, "job_type", m.delivery.Type,
			"duration_ms", ran.Milliseconds(), "error", errString(err))
		return
	}
	l.finish(m, l.classify(m, err, ran, context.Cause(ctx)))
}

// prepare checks m's signature and decodes its body into the job its
// handler takes. Every error it returns is permanent, a panic in the job
// type's UnmarshalJSON or Validate included.
func (l *lane) prepare(m *message) (job func(context.Context) error, timeout time.Duration, err error) {
	defer func() {
		if p := recover(); p != nil {
			job, err = nil, fmt.Errorf("decoding the %s job panicked: %v", m.delivery.Type, p)
		}
	}()
	body := []byte(aws.ToString(m.msg.Body))
	if key := l.c.cfg.SigningKey; len(key) > 0 {
		sig := attr(m.msg, jobs.AttrSignature)
		if sig == "" {
			return nil, 0, ErrUnsigned
		}
		if !jobs.Verify(key, body, sig) {
			return nil, 0, ErrForged
		}
	}
	if m.malformed != nil {
		return nil, 0, m.malformed
	}
	r, ok := l.c.mux.routes[m.delivery.Type]
	if !ok {
		return nil, 0, fmt.Errorf("%w %q", ErrUnknownType, m.delivery.Type)
	}
	decoded, err := r.decode(body)
	if err != nil {
		return nil, 0, err
	}
	return func(ctx context.Context) error { return r.run(ctx, decoded) }, r.timeout, nil
}

// call runs job, turning a panic into an error.
func call(ctx context.Context, job func(context.Context) error) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("handler panicked: %v\n%s", p, debug.Stack())
		}
	}()
	return job(ctx)
}

// classify turns a handler's result into what becomes of its message;
// cause is why the handler's context ended, if it did.
func (l *lane) classify(m *message, err error, ran time.Duration, cause error) result {
	r := result{err: err, ran: ran}
	switch d, ok := retryDelay(err); {
	case err == nil:
		r.outcome = OutcomeSucceeded
	case errors.Is(cause, ErrShuttingDown):
		// Cancelled by the shutdown, not failed: visible again at once.
		r.outcome = OutcomeReleased
	case IsPermanent(err):
		r.outcome = OutcomeDeadLettered
	case ok:
		r.outcome, r.delay = OutcomeRetried, max(d, 0)
	default:
		r.outcome, r.delay = OutcomeRetried, l.backoff(m)
	}
	return r
}

func (l *lane) backoff(m *message) time.Duration {
	return Backoff(m.delivery.ReceiveCount, l.c.cfg.BackoffBase, l.c.cfg.BackoffMax, nil)
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
