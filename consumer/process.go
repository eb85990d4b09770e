package consumer

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
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

// process prepares m's job, waits for its due time and its turn under
// the type's rate limit, runs its handler, and settles m by the result. A
// snooze within HoldLimit, and a throttled call under a rate limit, run
// the handler again in the same slot.
func (l *lane) process(jobsCtx context.Context, m *message) {
	if reason, ok := parked(m.msg); ok {
		// Its job failed for good before; only the copy to the DLQ did not
		// happen. Try that again rather than the job.
		l.finish(m, result{outcome: OutcomeDeadLettered, err: reason})
		return
	}
	r, job, err := l.prepare(m)
	if err != nil {
		l.finish(m, result{outcome: OutcomeDeadLettered, err: err})
		return
	}
	m.route = r
	m.delivery.Attempts = r.retry.Attempts
	if due := m.delivery.DueAt; !due.IsZero() && !l.holdOrHop(jobsCtx, m, due, "not due until "+due.UTC().Format(time.RFC3339)) {
		return
	}
	for {
		if r.limiter != nil && !l.takeTurn(jobsCtx, m, r.limiter) {
			return
		}
		res, ok := l.run(jobsCtx, m, r, job)
		if !ok {
			return
		}
		if res.outcome == OutcomeSnoozed || r.limiter != nil && throttled(res.err) {
			// It runs again: queued, under the heartbeat, until then.
			m.mu.Lock()
			m.state, m.until, m.cancel = stateQueued, m.received.Add(maxVisibility), nil
			m.mu.Unlock()
		}
		switch d, snoozed := snoozeDelay(res.err); {
		case snoozed:
			if !l.holdOrHop(jobsCtx, m, l.c.now().Add(d), res.err.Error()) {
				return
			}
		case r.limiter != nil && throttled(res.err):
			l.log.Warn("job throttled by the service its rate limit protects; waiting for its next turn",
				"job_id", m.delivery.ID, "job_type", m.delivery.Type, "error", res.err.Error())
			if err := l.slowDown(r.limiter); err != nil {
				l.finish(m, l.classify(m, err, res.ran, nil))
				return
			}
			// However the limiter slows down (a limit of no rate cannot),
			// the job waits a moment before its next turn.
			if !l.holdOrHop(jobsCtx, m, l.c.now().Add(throttlePause), "throttled") {
				return
			}
		default:
			l.finish(m, res)
			return
		}
	}
}

// takeTurn waits for m's start under limiter, and reports true when it
// may start. Otherwise m has been settled (sent on as a copy to wait for
// a later turn, its lease lost, or, when the limiter fails, retried) and
// the worker is done with it.
func (l *lane) takeTurn(jobsCtx context.Context, m *message, limiter Limiter) bool {
	ctx, cancel := context.WithTimeout(jobsCtx, l.callTimeout)
	at, ok, err := limiter.Reserve(ctx, l.c.cfg.HoldLimit)
	cancel()
	if err != nil {
		l.finish(m, l.classify(m, fmt.Errorf("rate limit: %w", err), 0, nil))
		return false
	}
	if !ok {
		// Past the hold: wait as a copy, and ask again when it comes back.
		l.finish(m, result{outcome: OutcomeSnoozed, err: errors.New("waiting for its turn under the rate limit"),
			delay: at.Sub(l.c.now()), copy: &copyOf{due: at, attempts: m.delivery.Attempt - 1}})
		return false
	}
	return l.holdOrHop(jobsCtx, m, at, "waiting for its turn under the rate limit")
}

// slowDown tells limiter its service throttled a call.
func (l *lane) slowDown(limiter Limiter) error {
	ctx, cancel := context.WithTimeout(context.Background(), l.callTimeout)
	defer cancel()
	if err := limiter.Throttled(ctx); err != nil {
		return fmt.Errorf("rate limit: slowing down after a throttled call: %w", err)
	}
	return nil
}

// run runs m's handler once under its deadline and returns what became of
// the job, with ok true; ok is false when m was settled meanwhile, by the
// hung-handler watchdog or a lost lease.
func (l *lane) run(jobsCtx context.Context, m *message, r *route, job jobs.Job) (res result, ok bool) {
	grace := l.c.cfg.HungGrace
	start := l.c.now()
	// Never run past SQS's 12 hours from the receive: the message would
	// show again while its handler still runs.
	deadline := min(r.timeout, l.remaining(m)-grace-l.firstLease)
	ctx, cancel := context.WithCancelCause(context.WithValue(jobsCtx, deliveryKey{}, &m.delivery))
	defer cancel(nil) // also unlinks ctx from jobsCtx, which outlives it
	ctx, cancelDeadline := context.WithTimeout(ctx, deadline)
	defer cancelDeadline()
	m.mu.Lock()
	if m.state != stateQueued { // its lease was lost while it waited
		m.mu.Unlock()
		cancel(ErrLeaseLost)
		return result{}, false
	}
	m.state = stateRunning
	m.until = start.Add(deadline + grace)
	m.cancel = cancel
	m.mu.Unlock()

	hung := make(chan bool, 1)
	watchdog := time.AfterFunc(deadline+grace, func() {
		settled := l.finish(m, result{
			outcome: OutcomeHung,
			err:     fmt.Errorf("handler still running %s after its %s deadline", grace, deadline),
			delay:   l.backoff(m),
		})
		if settled {
			l.c.hung.Add(1)
			l.c.cfg.Metrics.Hung(l.name, 1)
		}
		hung <- settled
	})

	l.handling.Add(1)
	err := call(ctx, func(ctx context.Context) error { return r.run(ctx, job) })
	l.handling.Add(-1)
	ran := l.c.now().Sub(start)
	l.c.cfg.Metrics.JobRan(l.name, l.c.typeLabel(m.delivery.Type), ran)
	if !watchdog.Stop() && <-hung {
		l.c.hung.Add(-1)
		l.c.cfg.Metrics.Hung(l.name, -1)
		l.log.Warn("hung handler returned", "job_id", m.delivery.ID, "job_type", m.delivery.Type,
			"duration_ms", ran.Milliseconds(), "error", errString(err))
		return result{}, false
	}
	m.mu.Lock()
	lost := m.state != stateRunning
	m.mu.Unlock()
	if lost {
		return result{}, false
	}
	return l.classify(m, err, ran, context.Cause(ctx)), true
}

// prepare checks m's signature and decodes its body into the job its
// type's handler takes. Every error it returns is permanent, a panic in
// the job type's UnmarshalJSON or Validate included.
func (l *lane) prepare(m *message) (r *route, job jobs.Job, err error) {
	defer func() {
		if p := recover(); p != nil {
			r, job, err = nil, nil, fmt.Errorf("decoding the %s job panicked: %v", m.delivery.Type, p)
		}
	}()
	body := []byte(aws.ToString(m.msg.Body))
	if key := l.c.cfg.SigningKey; len(key) > 0 {
		sig := attr(m.msg, jobs.AttrSignature)
		if sig == "" {
			return nil, nil, ErrUnsigned
		}
		if !jobs.Verify(key, body, sig) {
			return nil, nil, ErrForged
		}
	}
	if m.malformed != nil {
		return nil, nil, m.malformed
	}
	r, ok := l.c.mux.routes[m.delivery.Type]
	if !ok {
		return nil, nil, fmt.Errorf("%w %q", ErrUnknownType, m.delivery.Type)
	}
	job, err = r.decode(body)
	if err != nil {
		return nil, nil, err
	}
	return r, job, nil
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
// cause is why the handler's context ended, if it did. A snooze is
// returned as it is, for process to act on.
func (l *lane) classify(m *message, err error, ran time.Duration, cause error) result {
	r := result{err: err, ran: ran}
	d, retryAfter := retryDelay(err)
	switch _, snoozed := snoozeDelay(err); {
	case err == nil:
		r.outcome = OutcomeSucceeded
		return r
	case snoozed:
		r.outcome = OutcomeSnoozed
		return r
	case errors.Is(cause, ErrShuttingDown):
		// Cancelled by the shutdown, not failed: visible again at once.
		r.outcome = OutcomeReleased
		return r
	case IsPermanent(err):
		r.outcome = OutcomeDeadLettered
		return r
	case m.delivery.Attempts > 0 && m.delivery.Attempt >= m.delivery.Attempts:
		r.outcome = OutcomeDeadLettered
		r.err = fmt.Errorf("attempts exhausted (%d of %d); last error: %w", m.delivery.Attempt, m.delivery.Attempts, err)
		return r
	case retryAfter:
		r.outcome, r.delay = OutcomeRetried, max(d, 0)
	default:
		r.outcome, r.delay = OutcomeRetried, l.backoff(m)
	}
	if m.delivery.Attempts > 0 && m.delivery.LastReceive() {
		// The job has attempts left, but the queue would dead-letter it
		// on its next receive: go on as a fresh copy.
		r.copy = &copyOf{due: l.c.now().Add(r.delay), attempts: m.delivery.Attempt}
	}
	return r
}

// backoff is the retry delay of m after its attempt failed: by its job
// type's retry policy, or by the consumer's backoff if it has no route.
func (l *lane) backoff(m *message) time.Duration {
	if m.route != nil {
		return m.route.retry.delay(m.delivery.Attempt, rand.Float64)
	}
	return Backoff(m.delivery.ReceiveCount, l.c.cfg.BackoffBase, l.c.cfg.BackoffMax, nil)
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
