package ddb

import (
	"context"
	"errors"
	"sort"
	"time"
)

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
	// needs one (failed tickets, a stalled or overdue dispatch), as the
	// demo's handlers.OrderAction words it; Store.OrderStatus leaves it
	// empty.
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
