package consumer

import (
	"errors"
	"fmt"
)

// finish settles m with r, unless it is settled already, and reports
// whether it did. It asks SQS for what r means: a delete (after a copy to
// the DLQ for a dead letter, or a fresh copy on m's queue for r.copy), or
// a visibility change. A delete keeps m's heartbeat going until SQS
// confirms it; a visibility change ends it. finish waits only while the
// lane holds MaxUnconfirmed deletes.
func (l *lane) finish(m *message, r result) bool {
	next := stateChanging
	switch {
	case r.outcome == OutcomeSucceeded, r.outcome == OutcomeDeadLettered, r.copy != nil:
		next = stateDeleting
	case r.outcome == OutcomeLeaseLost:
		next = stateDone
	}
	if !m.settle(next) {
		return false
	}
	if r.copy != nil {
		if err := l.sendCopy(m, r.copy); err != nil {
			// The message itself waits instead, spending a receive.
			r.err = fmt.Errorf("%w (sending it on as a fresh copy failed: %v; it waits as it is)", r.err, err)
			r.copy, next = nil, stateChanging
			m.mu.Lock()
			m.state = next
			m.mu.Unlock()
		}
	}
	if r.outcome == OutcomeDeadLettered {
		if err := l.deadLetter(m, r.err); err != nil {
			l.c.cfg.Metrics.DeadLetterFailed(l.name, l.c.typeLabel(m.delivery.Type))
			r, next = l.deadLetterFailed(m, r, err)
			m.mu.Lock()
			m.state = next
			m.mu.Unlock()
		}
	}
	done := func(err error) { l.settled(m, r, err) }
	switch next {
	case stateDeleting:
		// Kept invisible until SQS confirms the delete, however long the
		// call takes.
		m.mu.Lock()
		m.until = m.received.Add(maxVisibility)
		m.mu.Unlock()
		l.deletes.add(ack{handle: receiptHandle(m), done: done})
	case stateChanging:
		l.beat.forget(m)
		a := ack{handle: receiptHandle(m), visibility: l.visibility(m, r.delay), done: done}
		m.mu.Lock()
		if m.extending { // sent when the extension is answered
			m.pending = &a
			m.mu.Unlock()
			return true
		}
		m.mu.Unlock()
		l.changes.add(a)
	default:
		l.settled(m, r, nil)
	}
	return true
}

// deadLetterFailed returns what becomes of m, whose job failed for good
// with r but whose copy to the DLQ failed with err: the job must not reach
// a handler again, in this worker or another. So the copy is parked on
// m's own queue, carrying the failure (see parked), and m is deleted. A
// message already parked, or whose parked copy fails too, waits for the
// queue's redrive policy instead, after a backoff.
func (l *lane) deadLetterFailed(m *message, r result, err error) (result, state) {
	why := fmt.Errorf("%w; sending it to the DLQ failed (%v)", r.err, err)
	if _, ok := parked(m.msg); !ok {
		perr := l.park(m, r.err)
		if perr == nil {
			return result{outcome: OutcomeRetried, ran: r.ran,
				err: fmt.Errorf("%w, so it is parked on its queue for the redrive policy", why)}, stateDeleting
		}
		why = fmt.Errorf("%w, and so did parking it on its queue (%v)", why, perr)
	}
	return result{outcome: OutcomeRetried, ran: r.ran, delay: l.backoff(m),
		err: fmt.Errorf("%w; it waits for the redrive policy", why)}, stateChanging
}

// leaseLost settles m as lease_lost if its handler has not finished yet,
// cancelling the handler's context. A message whose delete is in flight is
// left to the delete.
func (l *lane) leaseLost(m *message, why string) {
	m.mu.Lock()
	st, cancel := m.state, m.cancel
	m.mu.Unlock()
	if st >= stateDeleting {
		l.beat.forget(m)
		if st == stateDeleting {
			l.log.Warn("lease ran out before SQS confirmed the delete", "job_id", m.delivery.ID, "reason", why)
		}
		return
	}
	if l.finish(m, result{outcome: OutcomeLeaseLost, err: errors.New(why)}) && cancel != nil {
		cancel(ErrLeaseLost)
	}
}

// settled runs once SQS has answered the call that settles m, or at once
// for a lost lease: it logs the job's outcome and stops m's heartbeat.
func (l *lane) settled(m *message, r result, sqsErr error) {
	m.mu.Lock()
	m.state = stateDone
	m.mu.Unlock()
	l.beat.forget(m)
	d := m.delivery
	attrs := []any{"job_id", d.ID, "job_type", d.Type, "receive_count", d.ReceiveCount,
		"duration_ms", r.ran.Milliseconds(), "outcome", r.outcome}
	if r.err != nil {
		attrs = append(attrs, "error", r.err.Error())
	}
	if d.Attempts > 0 {
		attrs = append(attrs, "attempt", d.Attempt, "attempts", d.Attempts)
	}
	if r.outcome == OutcomeRetried || r.outcome == OutcomeHung || r.outcome == OutcomeSnoozed {
		attrs = append(attrs, "retry_in_ms", r.delay.Milliseconds())
	}
	switch {
	case sqsErr != nil:
		// A failed delete means the job runs again; a failed visibility
		// change means it comes back when its lease runs out.
		l.unconfirmed.Add(1)
		l.log.Error("job outcome not recorded in SQS", append(attrs, "sqs_error", sqsErr.Error())...)
	case r.outcome == OutcomeSucceeded, r.outcome == OutcomeSnoozed:
		l.log.Info("job", attrs...)
	case r.outcome == OutcomeDeadLettered || r.outcome == OutcomeLeaseLost:
		l.log.Error("job", attrs...)
	default:
		l.log.Warn("job", attrs...)
	}
	typ := l.c.typeLabel(d.Type)
	l.c.cfg.Metrics.JobFinished(l.name, typ, r.outcome)
	if r.outcome == OutcomeDeadLettered && sqsErr == nil {
		l.c.cfg.Metrics.DeadLettered(l.name, typ)
	}
	l.c.cfg.Metrics.InFlight(l.name, -1)
	l.held.done()
}
