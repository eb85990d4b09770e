package console

import (
	"fmt"
	"time"

	"github.com/busywork/busywork/internal/dlq"
)

// maxFailuresShown bounds the letters a task's view lists as not moved.
const maxFailuresShown = 10

// taskView is a task as the API shows it: its row (Type and Error as
// given, and escaped to be shown), how far it came, and, once it ended,
// what it did in words.
type taskView struct {
	ID         string  `json:"id"`
	Lane       string  `json:"lane"`
	Kind       string  `json:"kind"`
	Type       string  `json:"type"`
	Error      string  `json:"error"`
	TypeShown  string  `json:"type_shown"`
	ErrorShown string  `json:"error_shown"`
	Rate       float64 `json:"rate,omitempty"`
	Expected   int     `json:"expected"`
	State      string  `json:"state"`
	Matched    int     `json:"matched"`
	Moved      int     `json:"moved"`
	Failed     int     `json:"failed"`
	Skipped    int     `json:"skipped"`
	Started    int64   `json:"started,omitempty"` // Unix ms
	Ended      int64   `json:"ended,omitempty"`   // Unix ms
	// Message says what the task did, once it ended.
	Message string `json:"message,omitempty"`
	// Failures are some letters it could not move or delete, and why.
	Failures []string `json:"failures,omitempty"`
}

func (t *task) view() *taskView {
	t.mu.Lock()
	defer t.mu.Unlock()
	v := &taskView{
		ID: t.id, Lane: t.lane, Kind: t.kind, Type: t.filter.Type, Error: t.filter.Group,
		TypeShown: dlq.Escaped(t.filter.Type), ErrorShown: dlq.Escaped(t.filter.Group), Rate: t.rate, Expected: t.expected,
		State: t.state, Matched: t.progress.Matched, Moved: t.progress.Moved, Failed: t.progress.Failed, Skipped: t.progress.Skipped,
		Started: unixMS(t.started), Ended: unixMS(t.ended),
	}
	if t.state != stateWaiting && t.state != stateRunning {
		v.Message = t.message()
	}
	if t.sum != nil {
		for _, f := range append(t.sum.Failures, t.sum.Undeleted...) {
			if len(v.Failures) == maxFailuresShown {
				break
			}
			v.Failures = append(v.Failures, fmt.Sprintf("%s: %s", f.Letter, dlq.Escaped(f.Err.Error())))
		}
	}
	return v
}

// message says what an ended task did. The caller holds t.mu.
func (t *task) message() string {
	p, took := t.progress, ""
	if d := t.ended.Sub(t.started); !t.started.IsZero() {
		unit := 100 * time.Millisecond
		if d < time.Second {
			unit = time.Millisecond
		}
		took = fmt.Sprintf(" in %s", d.Round(unit))
	}
	var m string
	if t.kind == kindReplay {
		m = fmt.Sprintf("Moved %d of %d matching dead letters from %s back to %s%s.", p.Moved, p.Matched, t.dlq, t.queue, took)
	} else {
		m = fmt.Sprintf("Deleted %d of %d matching dead letters from %s%s.", p.Moved, p.Matched, t.dlq, took)
	}
	switch {
	case p.Skipped == 1:
		m += " 1 other was left as it was."
	case p.Skipped > 1:
		m += fmt.Sprintf(" %d others were left as they were.", p.Skipped)
	}
	if p.Failed > 0 {
		m += fmt.Sprintf(" %d failed and stay in %s: run it again.", p.Failed, t.dlq)
	}
	if t.sum != nil && len(t.sum.Undeleted) > 0 {
		m += fmt.Sprintf(" %d were moved but their delete failed: they are in both queues.", len(t.sum.Undeleted))
	}
	if t.sum != nil && t.sum.Unreleased > 0 {
		m += fmt.Sprintf(" SQS did not release %d: they show again when their visibility timeout ends.", t.sum.Unreleased)
	}
	switch t.state {
	case stateCancelled:
		m = "Cancelled. " + m + " The rest stay in " + t.dlq + "."
	case stateFailed:
		if t.err != nil {
			m += " Stopped: " + dlq.Escaped(t.err.Error())
		}
	}
	return m
}
