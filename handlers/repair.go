package handlers

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/busywork/busywork/ddb"
	"github.com/busywork/busywork/demo"
	"github.com/busywork/busywork/jobs"
)

// ErrNotFannedOut means an order's ticket_order job has not made the
// order's tickets yet: there is nothing to repair, or the job is in a
// dead-letter queue.
var ErrNotFannedOut = errors.New("its ticket_order job has not made its tickets yet")

// Repair is what Tickets.Repair did to finish an order.
type Repair struct {
	// Dispatched reports that the order was emailed already: nothing was
	// done.
	Dispatched bool
	// DispatchEnqueued reports that every ticket was done and the
	// dispatch was enqueued again, under its own job id.
	DispatchEnqueued bool
	// Requeued lists the failed tickets whose generate_ticket jobs were
	// enqueued again.
	Requeued []int
	// Pending is how many tickets are neither done nor recorded failed:
	// their jobs are on their way, or dead-lettered without a trace
	// (look in the DLQ); Repair leaves them alone.
	Pending int
}

// Repair finishes order orderID when no retry will: the order whose
// tickets are all made but that was not emailed (its dispatch could not be
// enqueued, or failed for good; see ddb.Stall), and the order with failed
// tickets. For the first it enqueues the dispatch again (groups.Repair);
// for the second, a generate_ticket job for each failed ticket, whose
// completion then enqueues the dispatch. It is safe to run twice, and
// beside a replay of the order's dead letters: a ticket counts once, and
// the dispatch runs once. An order that was emailed changes nothing. An
// unknown order gives an error wrapping ddb.ErrNotFound, one whose
// ticket_order job has not run yet ErrNotFannedOut.
func (h *Tickets) Repair(ctx context.Context, orderID string) (Repair, error) {
	g, err := h.Groups.Repair(ctx, orderID)
	if errors.Is(err, ddb.ErrNotFound) {
		if _, oerr := h.Store.GetOrder(ctx, orderID); oerr != nil {
			return Repair{}, fmt.Errorf("repair order %s: %w", orderID, oerr)
		}
		return Repair{}, fmt.Errorf("repair order %s: %w (if that lasts, look for it in the DLQ: busywork dlq peek --lane all --type ticket_order)",
			orderID, ErrNotFannedOut)
	}
	if err != nil {
		return Repair{}, fmt.Errorf("repair order %s: %w", orderID, err)
	}
	b := g.Group
	switch {
	case b.Dispatched():
		return Repair{Dispatched: true}, nil
	case g.FollowUpSent:
		h.logger().InfoContext(ctx, "ticket order: dispatch enqueued by a repair", "order_id", orderID)
		return Repair{DispatchEnqueued: true}, nil
	}
	r := Repair{Requeued: slices.Sorted(maps.Keys(b.Failed))}
	r.Pending = b.Total - len(b.Done) - len(r.Requeued)
	if len(r.Requeued) == 0 {
		return r, nil
	}
	order, err := h.Store.GetOrder(ctx, orderID)
	if err != nil {
		return Repair{}, fmt.Errorf("repair order %s: %w", orderID, err)
	}
	js := make(map[int]jobs.Job, len(r.Requeued))
	for _, n := range r.Requeued {
		js[n] = demo.GenerateTicket{OrderID: orderID, Number: n, Total: b.Total, Event: order.Event, Attendee: order.Email}
	}
	if err := h.Groups.Resend(ctx, orderID, js); err != nil {
		return Repair{}, fmt.Errorf("repair order %s: enqueue the failed tickets: %w", orderID, err)
	}
	h.logger().InfoContext(ctx, "ticket order: failed tickets enqueued by a repair", "order_id", orderID, "tickets", len(js))
	return r, nil
}

// DispatchOverdue is how long after its last ticket an order's tickets
// should have been emailed: a dispatch that retries takes seconds to
// minutes. An order complete for longer, not dispatched, and with no
// stall recorded (a worker that died on a job's last receive records
// nothing) gets an action that says to repair it.
const DispatchOverdue = 15 * time.Minute

// OrderAction returns what an operator does, at now, to finish the order
// st, for its Action, or "" when it needs nothing (emailed, or on its
// way). laneOf names the lane a job type goes to (producer.Routes.Lane),
// for the `busywork dlq replay` to suggest.
func OrderAction(st ddb.OrderStatus, now time.Time, laneOf func(jobType string) string) string {
	repair := "`busywork batch repair " + st.OrderID + "`"
	replay := func(jobType string) string {
		return "`busywork dlq replay --lane " + laneOf(jobType) + " --type " + jobType + "`"
	}
	switch {
	case st.Dispatched:
		return ""
	case st.Stalled != nil:
		dead := replay(demo.TypeGenerateTicket)
		if st.Stalled.DispatchFailed {
			dead = replay(demo.TypeDispatchTickets)
		}
		return fmt.Sprintf("The tickets were not emailed and no retry is coming. Fix the cause, then run %s, "+
			"or replay the order's dead letters: %s. The tickets are emailed once, whichever you run, however often.", repair, dead)
	case st.Complete && st.CompletedAt != nil && now.Sub(*st.CompletedAt) > DispatchOverdue:
		return fmt.Sprintf("Every ticket was made %s ago but the tickets were not emailed, and no failure was recorded "+
			"(a worker may have died on a job's last receive). Unless a %s job of this order still waits in lane %s, run %s; "+
			"the tickets are emailed once.", now.Sub(*st.CompletedAt).Round(time.Minute), demo.TypeDispatchTickets,
			laneOf(demo.TypeDispatchTickets), repair)
	case len(st.Failed) > 0:
		return fmt.Sprintf("%d tickets failed (see errors). Fix the cause, then run %s, which enqueues them again, "+
			"or replay their dead letters: %s. The order then completes and is emailed once.",
			len(st.Failed), repair, replay(demo.TypeGenerateTicket))
	}
	return ""
}
