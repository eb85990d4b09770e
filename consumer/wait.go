package consumer

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/busywork/busywork/jobs"
)

// Waiting without an attempt: a job may have to wait before it runs, for
// its due time (a delayed send), for its turn under a rate limit, or
// because its handler snoozed it. None of these is a failure. A wait of
// up to Config.HoldLimit is held by the worker, in the job's slot and
// under its heartbeat; a longer one gives the slot back: the consumer
// sends a fresh copy of the message, delayed by the wait (at most MaxHop
// at a time, the rest carried in its due_at attribute), and deletes the
// message it has. The copy keeps the job's id, and its attempts attribute
// keeps the count of tries, so the wait spends neither one of the queue's
// receives nor one of the job's attempts.

// Limits of waiting.
const (
	// DefaultHoldLimit is the HoldLimit of a Config that sets none.
	DefaultHoldLimit = 5 * time.Second
	// MaxHop is the longest delay SQS takes for a message, and so the
	// longest a fresh copy waits before a worker sees it again: a longer
	// wait is made of several hops. It is Config.MaxHop's default.
	MaxHop = 15 * time.Minute
	// MaxSnooze is the longest a Snooze waits; a longer one is cut to it.
	MaxSnooze = 7 * 24 * time.Hour
)

// Snooze asks for the job to run again after d, without counting a
// failure: the handler returns it, as in
//
//	if !ready {
//		return consumer.Snooze(time.Minute)
//	}
//
// The job keeps its id and its attempt: a snooze spends neither one of
// the job's attempts (Retry) nor one of the queue's receives. A snooze of
// up to Config.HoldLimit is waited out in the worker, which then runs the
// handler again; a longer one costs a SendMessage and a DeleteMessage
// (the fresh copy, and the message it replaces) and, past MaxHop, the
// same again for every further MaxHop. d is cut to between 0 and
// MaxSnooze.
func Snooze(d time.Duration) error {
	return &snoozeError{delay: min(max(d, 0), MaxSnooze)}
}

// IsSnooze reports whether err, or an error it wraps, is a Snooze: the
// job waits, and has not failed. A middleware that records outcomes (a
// trace, a log) tells a snooze from a failure with it.
func IsSnooze(err error) bool {
	_, ok := snoozeDelay(err)
	return ok
}

type snoozeError struct{ delay time.Duration }

func (e *snoozeError) Error() string { return fmt.Sprintf("snoozed for %s", e.delay) }

// snoozeDelay returns the delay a Snooze in err's chain asks for.
func snoozeDelay(err error) (time.Duration, bool) {
	var s *snoozeError
	if errors.As(err, &s) {
		return s.delay, true
	}
	return 0, false
}

// holdOrHop makes m wait until at. It reports true once at has come, for
// the worker to go on with m. Otherwise m has been settled (its lease was
// lost, or it was sent on as a fresh copy due at at) and the worker is
// done with it. A wait longer than HoldLimit, or one still going on when
// jobsCtx ends (the drain is over), is sent on as a copy.
func (l *lane) holdOrHop(jobsCtx context.Context, m *message, at time.Time, why string) bool {
	wait := at.Sub(l.c.now())
	if wait <= 0 {
		return true
	}
	if wait <= l.c.cfg.HoldLimit {
		t := time.NewTimer(wait)
		select {
		case <-t.C:
			m.mu.Lock()
			queued := m.state == stateQueued
			m.mu.Unlock()
			return queued // else its lease was lost while it waited
		case <-jobsCtx.Done():
			t.Stop()
		}
	}
	l.finish(m, result{outcome: OutcomeSnoozed, err: errors.New(why), delay: at.Sub(l.c.now()),
		copy: &copyOf{due: at, attempts: m.delivery.Attempt - 1}})
	return false
}

// copyOf is the fresh copy a result sends in place of its message.
type copyOf struct {
	// due is when the job may run; the copy carries it as due_at when it
	// is more than a hop away.
	due time.Time
	// attempts is how many tries of the job the copy counts as made.
	attempts int
}

// sendCopy sends c, a fresh copy of m, to m's queue: the same body, the
// same attributes (with due_at and attempts set), the same MessageGroupId,
// delayed until c.due or by MaxHop, whichever is sooner.
func (l *lane) sendCopy(m *message, c *copyOf) error {
	own := map[string]types.MessageAttributeValue{}
	if c.attempts > 0 {
		own[jobs.AttrAttempts] = stringAttr(strconv.Itoa(c.attempts))
	}
	delay := c.due.Sub(l.c.now())
	if delay > l.c.cfg.MaxHop {
		own[jobs.AttrDueAt] = stringAttr(c.due.UTC().Format(time.RFC3339Nano))
	} else if due := attr(m.msg, jobs.AttrDueAt); due != "" {
		own[jobs.AttrDueAt] = stringAttr(due) // not before; already past, or within the hop
	}
	in := l.copyInput(l.url, m, own)
	in.DelaySeconds = int32(visibilitySeconds(min(delay, l.c.cfg.MaxHop)))
	if group := m.msg.Attributes[string(types.MessageSystemAttributeNameMessageGroupId)]; group != "" {
		in.MessageGroupId = aws.String(group)
	}
	return l.send(in)
}

// attemptsBefore returns how many tries earlier copies of msg counted
// (its attempts attribute; 0 if it has none or it is not a number).
func attemptsBefore(msg types.Message) int {
	n, err := strconv.Atoi(attr(msg, jobs.AttrAttempts))
	if err != nil || n < 0 {
		return 0
	}
	return n
}
