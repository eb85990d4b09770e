package consumer

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/busywork/busywork/jobs"
)

// Reasons a message is dead-lettered before any handler runs.
var (
	ErrUnknownType = errors.New("no handler for job type")
	ErrUnsigned    = errors.New("message has no signature")
	ErrForged      = errors.New("message signature does not match its body")
)

// start tracks msg from the moment it was received and runs its handler.
func (l *lane) start(jobsCtx context.Context, msg types.Message) {
	now := time.Now()
	m := &message{msg: msg, received: now, expires: now.Add(l.lease), until: now.Add(l.lease)}
	m.delivery = Delivery{
		ID:        aws.ToString(msg.MessageId),
		Queue:     l.name,
		MessageID: aws.ToString(msg.MessageId),
	}
	if id := attr(msg, jobs.AttrJobID); id != "" {
		m.delivery.ID = id
	}
	m.delivery.ReceiveCount, _ = strconv.Atoi(msg.Attributes[string(types.MessageSystemAttributeNameApproximateReceiveCount)])
	m.delivery.Type, m.malformed = jobs.PeekType([]byte(aws.ToString(msg.Body)))
	m.refs.Store(2)
	l.unsettle.add()
	l.running.add()
	l.beat.track(m)
	l.c.cfg.Metrics.inFlightAdd(l.name, 1)
	go l.run(jobsCtx, m)
}

// run prepares and runs m's handler and settles m by its result.
func (l *lane) run(jobsCtx context.Context, m *message) {
	defer l.running.done()
	defer l.unref(m)

	job, timeout, err := l.prepare(m)
	if err != nil {
		l.finish(m, result{outcome: OutcomeDeadLettered, err: err})
		return
	}
	start := time.Now()
	grace := l.c.cfg.HungGrace
	// Never run past 12 hours from the receive: SQS would show the message
	// again while its handler still runs.
	deadline := start.Add(min(timeout, m.received.Add(maxVisibility-grace-l.lease).Sub(start)))
	m.mu.Lock()
	m.until = deadline.Add(grace)
	m.mu.Unlock()

	ctx, cancel := context.WithDeadline(context.WithValue(jobsCtx, deliveryKey{}, &m.delivery), deadline)
	defer cancel()
	hung := make(chan bool, 1)
	watchdog := time.AfterFunc(time.Until(deadline.Add(grace)), func() {
		settled := l.finish(m, result{
			outcome: OutcomeHung,
			err:     fmt.Errorf("handler still running %s after its %s deadline", grace, timeout),
			delay:   l.backoff(m),
		})
		if settled {
			l.c.hung.Add(1)
			l.c.cfg.Metrics.hungAdd(l.name, 1)
		}
		hung <- settled
	})

	err = call(ctx, job)
	ran := time.Since(start)
	l.c.cfg.Metrics.ran(l.name, m.delivery.Type, ran)
	if !watchdog.Stop() && <-hung {
		l.c.hung.Add(-1)
		l.c.cfg.Metrics.hungAdd(l.name, -1)
		l.log.Warn("hung handler returned", "job_id", m.delivery.ID, "job_type", m.delivery.Type,
			"duration_ms", ran.Milliseconds(), "error", errString(err))
		return
	}
	l.finish(m, l.classify(m, err, ran))
}

// prepare checks m's signature and decodes its body into the job its
// handler takes. Every error it returns is permanent.
func (l *lane) prepare(m *message) (func(context.Context) error, time.Duration, error) {
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
	job, err := r.prepare(body)
	if err != nil {
		return nil, 0, err
	}
	return job, r.timeout, nil
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

// classify turns a handler's result into what becomes of its message.
func (l *lane) classify(m *message, err error, ran time.Duration) result {
	r := result{err: err, ran: ran}
	switch d, ok := retryDelay(err); {
	case err == nil:
		r.outcome = OutcomeSucceeded
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

// finish settles m with r, unless it is settled already, and reports
// whether it did. It stops m's heartbeat and asks SQS for what r means:
// a delete, a visibility change, or a copy to the DLQ and a delete.
func (l *lane) finish(m *message, r result) bool {
	if !m.settle() {
		return false
	}
	l.beat.forget(m)
	if r.outcome == OutcomeDeadLettered {
		if err := l.deadLetter(m, r.err); err != nil {
			// Not parked, so not deleted: SQS retries it, and its redrive
			// policy parks it in the end. Nothing is lost.
			r = result{outcome: OutcomeRetried, ran: r.ran, delay: l.backoff(m),
				err: fmt.Errorf("%w (and sending it to the DLQ failed: %v)", r.err, err)}
		}
	}
	done := func(err error) { l.settled(m, r, err) }
	switch r.outcome {
	case OutcomeSucceeded, OutcomeDeadLettered:
		l.deletes.add(ack{handle: aws.ToString(m.msg.ReceiptHandle), done: done})
	default: // retried, hung, released
		l.changes.add(ack{handle: aws.ToString(m.msg.ReceiptHandle), visibility: visibilitySeconds(r.delay), done: done})
	}
	return true
}

// settled runs once SQS has answered the call that settles m: it logs the
// job's outcome and frees m's slot if its handler has returned too.
func (l *lane) settled(m *message, r result, sqsErr error) {
	d := m.delivery
	attrs := []any{"job_id", d.ID, "job_type", d.Type, "receive_count", d.ReceiveCount,
		"duration_ms", r.ran.Milliseconds(), "outcome", r.outcome}
	if r.err != nil {
		attrs = append(attrs, "error", r.err.Error())
	}
	if r.outcome == OutcomeRetried || r.outcome == OutcomeHung {
		attrs = append(attrs, "retry_in_ms", r.delay.Milliseconds())
	}
	switch {
	case sqsErr != nil:
		// A failed delete means the job runs again; a failed visibility
		// change means it comes back when its lease runs out.
		l.log.Error("job outcome not recorded in SQS", append(attrs, "sqs_error", sqsErr.Error())...)
	case r.outcome == OutcomeSucceeded:
		l.log.Info("job", attrs...)
	case r.outcome == OutcomeDeadLettered:
		l.log.Error("job", attrs...)
	default:
		l.log.Warn("job", attrs...)
	}
	l.c.cfg.Metrics.finished(l.name, d.Type, r.outcome)
	if r.outcome == OutcomeDeadLettered && sqsErr == nil {
		l.c.cfg.Metrics.deadLetter(l.name, d.Type)
	}
	l.unsettle.done()
	l.unref(m)
}

// unref drops one of the two holds on m's slot.
func (l *lane) unref(m *message) {
	if m.refs.Add(-1) == 0 {
		l.slots.release(1)
		l.c.cfg.Metrics.inFlightAdd(l.name, -1)
	}
}

func attr(msg types.Message, name string) string {
	return aws.ToString(msg.MessageAttributes[name].StringValue)
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
