package ddb

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/busywork/busywork/jobs"
)

// DispatchOverdue is how long after its last ticket an order's tickets
// should have been emailed: a dispatch that retries takes seconds to
// minutes. An order complete for longer, not dispatched, and with no
// stall recorded (a worker that died on a job's last receive records
// nothing) gets an Action that says to repair it.
const DispatchOverdue = 15 * time.Minute

// OrderStatus is the progress of a ticket order as the web app and `busywork
// batch status --json` show it.
type OrderStatus struct {
	OrderID string `json:"order_id"`
	Event   string `json:"event"`
	Total   int    `json:"total"`
	Done    int    `json:"done"`
	// Failed lists the tickets recorded as failed, by number; Errors says
	// why, keyed by the same numbers.
	Failed       []int          `json:"failed"`
	Errors       map[int]string `json:"errors,omitempty"`
	Complete     bool           `json:"complete"`
	Dispatched   bool           `json:"dispatched"`
	CreatedAt    time.Time      `json:"created_at"`
	CompletedAt  *time.Time     `json:"completed_at,omitempty"`
	DispatchedAt *time.Time     `json:"dispatched_at,omitempty"`
	// Stalled says why a complete order's tickets were not emailed, when
	// a worker recorded it; absent otherwise, and once dispatched.
	Stalled *OrderStall `json:"stalled,omitempty"`
	// Action says what an operator does to finish the order, when it
	// needs one (failed tickets, a stalled or overdue dispatch), as
	// SetAction wrote it; Store.OrderStatus leaves it empty.
	Action string `json:"action,omitempty"`
}

// OrderStall is why a complete order's tickets were not emailed: the
// enqueue of its dispatch failed on the last receive of the tickets in
// Tickets, or the dispatch job itself failed for good (DispatchFailed).
// No retry is coming; see OrderStatus.Action.
type OrderStall struct {
	Tickets        []int     `json:"tickets,omitempty"`
	DispatchFailed bool      `json:"dispatch_failed,omitempty"`
	Reason         string    `json:"reason"`
	Since          time.Time `json:"since"`
}

// OrderStatus reads order id and its batch: ErrNotFound for an unknown
// order. An order whose batch the worker has not created yet shows no
// progress.
func (s *Store) OrderStatus(ctx context.Context, id string) (OrderStatus, error) {
	o, err := s.GetOrder(ctx, id)
	if err != nil {
		return OrderStatus{}, err
	}
	st := OrderStatus{OrderID: o.ID, Event: o.Event, Total: o.Tickets, Failed: []int{}, CreatedAt: o.CreatedAt}
	b, err := s.GetBatch(ctx, id)
	switch {
	case errors.Is(err, ErrNotFound):
		return st, nil
	case err != nil:
		return OrderStatus{}, err
	}
	st.Done = len(b.Done)
	st.Complete = b.Complete()
	st.Dispatched = b.Dispatched()
	for n := range b.Failed {
		st.Failed = append(st.Failed, n)
	}
	sort.Ints(st.Failed)
	if len(b.Failed) > 0 {
		st.Errors = b.Failed
	}
	if !b.CompletedAt.IsZero() {
		st.CompletedAt = &b.CompletedAt
	}
	if !b.DispatchedAt.IsZero() {
		st.DispatchedAt = &b.DispatchedAt
	}
	if b.Stall != nil {
		st.Stalled = &OrderStall{Tickets: b.Stall.Children, DispatchFailed: b.Stall.FollowUp, Reason: b.Stall.Reason, Since: b.Stall.At}
	}
	return st, nil
}

// SetAction sets st.Action to what an operator does, at now, to finish the
// order, or to "" when it needs nothing (emailed, or on its way). laneOf
// names the lane a job type goes to (producer.Routes.Lane), for the
// `busywork dlq replay` to suggest.
func (st *OrderStatus) SetAction(now time.Time, laneOf func(jobType string) string) {
	repair := "`busywork batch repair " + st.OrderID + "`"
	replay := func(jobType string) string {
		return "`busywork dlq replay --lane " + laneOf(jobType) + " --type " + jobType + "`"
	}
	switch {
	case st.Dispatched:
		st.Action = ""
	case st.Stalled != nil:
		dead := replay(jobs.TypeGenerateTicket)
		if st.Stalled.DispatchFailed {
			dead = replay(jobs.TypeDispatchTickets)
		}
		st.Action = fmt.Sprintf("The tickets were not emailed and no retry is coming. Fix the cause, then run %s, "+
			"or replay the order's dead letters: %s. The tickets are emailed once, whichever you run, however often.", repair, dead)
	case st.Complete && st.CompletedAt != nil && now.Sub(*st.CompletedAt) > DispatchOverdue:
		st.Action = fmt.Sprintf("Every ticket was made %s ago but the tickets were not emailed, and no failure was recorded "+
			"(a worker may have died on a job's last receive). Unless a %s job of this order still waits in lane %s, run %s; "+
			"the tickets are emailed once.", now.Sub(*st.CompletedAt).Round(time.Minute), jobs.TypeDispatchTickets,
			laneOf(jobs.TypeDispatchTickets), repair)
	case len(st.Failed) > 0:
		st.Action = fmt.Sprintf("%d tickets failed (see errors). Fix the cause, then run %s, which enqueues them again, "+
			"or replay their dead letters: %s. The order then completes and is emailed once.",
			len(st.Failed), repair, replay(jobs.TypeGenerateTicket))
	default:
		st.Action = ""
	}
}
