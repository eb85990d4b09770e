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
	return st, nil
}
