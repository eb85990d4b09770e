package handlers_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go/middleware"

	"github.com/busywork/busywork/ddb"
	"github.com/busywork/busywork/demo"
	"github.com/busywork/busywork/handlers"
	"github.com/busywork/busywork/internal/testenv"
	"github.com/busywork/busywork/producer"
)

// sdkFault fails, while it is on, the SDK calls its middleware is given for,
// before they reach the emulator, as an outage would; it counts them.
type sdkFault struct {
	on    atomic.Bool
	fails atomic.Int32
}

// middleware returns an SDK option under which calls that match fail with
// an injected error while f is on.
func (f *sdkFault) middleware(match func(params any) bool) func(*middleware.Stack) error {
	return func(s *middleware.Stack) error {
		return s.Initialize.Add(middleware.InitializeMiddlewareFunc("injectFault",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				if f.on.Load() && match(in.Parameters) {
					f.fails.Add(1)
					return middleware.InitializeOutput{}, middleware.Metadata{}, errors.New("injected: the service is down")
				}
				return next.HandleInitialize(ctx, in)
			}), middleware.Before)
	}
}

// newStallWorld returns a ticket world whose queue dead-letters a job
// after 2 receives, and a fault, on, for the test to put in front of the
// emulator where it breaks something.
func newStallWorld(t *testing.T) (*ticketWorld, *sdkFault) {
	t.Helper()
	f := &sdkFault{}
	f.on.Store(true)
	return newTicketWorldOf(t, 2), f
}

// isDispatchSend matches the send of a dispatch_tickets job.
func isDispatchSend(params any) bool {
	in, ok := params.(*sqs.SendMessageInput)
	return ok && strings.Contains(aws.ToString(in.MessageBody), `"type":"`+demo.TypeDispatchTickets+`"`)
}

// awaitDeadLetters waits until the DLQ holds n messages and leaves them
// there, returning their bodies.
func (w *ticketWorld) awaitDeadLetters(n int) []string {
	w.t.Helper()
	msgs := testenv.ReceiveAll(context.Background(), w.t, w.sqs, w.dlq, n, time.Minute)
	var bodies []string
	for _, m := range msgs {
		bodies = append(bodies, aws.ToString(m.Body))
		if _, err := w.sqs.ChangeMessageVisibility(context.Background(), &sqs.ChangeMessageVisibilityInput{
			QueueUrl: aws.String(w.dlq), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0,
		}); err != nil {
			w.t.Fatal(err)
		}
	}
	return bodies
}

func TestTickets_ADispatchNotEnqueuedOnTheLastTicketsLastReceiveIsRecordedAndARepairPlusAReplayEmailOnce(t *testing.T) {
	testenv.Require(t)
	w, f := newStallWorld(t)
	broken := producer.New(testenv.SQS(t, func(o *sqs.Options) { o.APIOptions = append(o.APIOptions, f.middleware(isDispatchSend)) }),
		w.queue, producer.WithTimeout(30*time.Second))
	h := w.tickets(broken)
	w.serve(h, handlers.GenerateTicketTimeout)
	id := w.order(3)

	// The last ticket counts itself done, but SQS refuses the dispatch on
	// both of its receives: the order records why, and which ticket.
	st := w.awaitStatus(id, 2*time.Minute, "the stall recorded", func(st ddb.OrderStatus) bool { return st.Stalled != nil })
	if !st.Complete || st.Dispatched || len(st.Stalled.Tickets) != 1 || st.Stalled.DispatchFailed ||
		!strings.Contains(st.Stalled.Reason, "groups: enqueue the follow-up: producer: send dispatch_tickets job") || !strings.Contains(st.Stalled.Reason, "injected: the service is down") {
		t.Fatalf("status %+v, stall %+v; want complete, not dispatched, one ticket's enqueue failing", st, st.Stalled)
	}
	if n := f.fails.Load(); n != 2 {
		t.Errorf("the dispatch's send failed %d times, want 2 (maxReceiveCount)", n)
	}
	bodies := w.awaitDeadLetters(1)
	if !strings.Contains(bodies[0], demo.TypeGenerateTicket) || !strings.Contains(bodies[0], `"ticket_number":`+strconv.Itoa(st.Stalled.Tickets[0])) {
		t.Fatalf("the dead letter %s is not the stalled ticket %d's job", bodies[0], st.Stalled.Tickets[0])
	}
	if mails := mailsTo(t, w.since, w.to); len(mails) != 0 {
		t.Fatalf("%d emails for an order whose dispatch was never enqueued", len(mails))
	}

	// The cause is fixed. An operator repairs the order, and another
	// replays its dead letter too: one email.
	f.on.Store(false)
	repair := w.tickets(w.producer)
	if r, err := repair.Repair(context.Background(), id); err != nil || !r.DispatchEnqueued {
		t.Fatalf("Repair: %+v, %v; want the dispatch enqueued", r, err)
	}
	replay(t, w.sqs, w.dlq, w.queue)
	mails := w.mails(id)
	if len(mails) != 1 {
		t.Fatalf("%d emails after a repair and a replay, want 1", len(mails))
	}
	checkTickets(t, mails, id, 3)
	if st, _ := w.store.OrderStatus(context.Background(), id); st.Stalled != nil || !st.Dispatched {
		t.Errorf("status after the repair %+v, want dispatched with no stall", st)
	}

	// A second repair finds the order emailed.
	if r, err := repair.Repair(context.Background(), id); err != nil || !r.Dispatched || r.DispatchEnqueued {
		t.Fatalf("second Repair: %+v, %v; want nothing done", r, err)
	}
	time.Sleep(3 * time.Second) // a second email would arrive within this
	if mails := mailsTo(t, w.since, w.to); len(mails) != 1 {
		t.Fatalf("%d emails after a second repair, want still 1", len(mails))
	}
}

func TestTickets_ADispatchThatFailsOnItsLastReceiveIsRecordedAndRepairingTwiceEmailsOnce(t *testing.T) {
	testenv.Require(t)
	w, f := newStallWorld(t)
	h := w.tickets(w.producer)
	h.Mail = testenv.SESv2(t, func(o *sesv2.Options) {
		o.APIOptions = append(o.APIOptions, f.middleware(func(p any) bool { _, ok := p.(*sesv2.SendEmailInput); return ok }))
	})
	w.serve(h, handlers.GenerateTicketTimeout)
	id := w.order(2)

	st := w.awaitStatus(id, 2*time.Minute, "the stall recorded", func(st ddb.OrderStatus) bool { return st.Stalled != nil })
	if !st.Complete || st.Dispatched || !st.Stalled.DispatchFailed || len(st.Stalled.Tickets) != 0 ||
		!strings.Contains(st.Stalled.Reason, "injected: the service is down") {
		t.Fatalf("status %+v, stall %+v; want complete, the dispatch failed for good", st, st.Stalled)
	}
	if n := f.fails.Load(); n != 2 {
		t.Errorf("SES was called %d times, want 2 (maxReceiveCount)", n)
	}
	if bodies := w.awaitDeadLetters(1); !strings.Contains(bodies[0], demo.TypeDispatchTickets) {
		t.Fatalf("the dead letter %s is not the dispatch", bodies[0])
	}

	f.on.Store(false)
	for range 2 {
		if r, err := h.Repair(context.Background(), id); err != nil || !r.DispatchEnqueued {
			t.Fatalf("Repair: %+v, %v; want the dispatch enqueued", r, err)
		}
	}
	mails := w.mails(id)
	if len(mails) != 1 {
		t.Fatalf("%d emails after two repairs, want 1", len(mails))
	}
	checkTickets(t, mails, id, 2)
	// The dispatch's dead letter, replayed late, sends nothing more.
	replay(t, w.sqs, w.dlq, w.queue)
	time.Sleep(3 * time.Second) // a second email would arrive within this
	if mails := mailsTo(t, w.since, w.to); len(mails) != 1 {
		t.Fatalf("%d emails after the replay too, want still 1", len(mails))
	}
}

func TestTickets_RepairEnqueuesTheFailedTicketsAgainAndTheOrderIsEmailedOnce(t *testing.T) {
	testenv.Require(t)
	w := newTicketWorld(t)
	h, f := w.serveFailingTicket(2)
	id := w.order(3)
	st := w.awaitStatus(id, time.Minute, "ticket 2 failed", func(st ddb.OrderStatus) bool { return st.Done == 2 && len(st.Failed) == 1 })
	if !slices.Equal(st.Failed, []int{2}) {
		t.Fatalf("failed %v, want ticket 2", st.Failed)
	}

	f.broken.Store(false)
	r, err := h.Repair(context.Background(), id)
	if err != nil || !slices.Equal(r.Requeued, []int{2}) || r.Pending != 0 || r.DispatchEnqueued {
		t.Fatalf("Repair: %+v, %v; want ticket 2 enqueued again", r, err)
	}
	mails := w.mails(id)
	if len(mails) != 1 {
		t.Fatalf("%d emails, want 1", len(mails))
	}
	checkTickets(t, mails, id, 3)
}

func TestTickets_RepairOfAnUnknownOrNotYetFannedOutOrderSaysSo(t *testing.T) {
	testenv.Require(t)
	w := newTicketWorld(t)
	h := w.tickets(w.producer)
	if _, err := h.Repair(context.Background(), "no-such-order"); !errors.Is(err, ddb.ErrNotFound) {
		t.Errorf("Repair of an unknown order: %v, want ErrNotFound", err)
	}
	if _, err := w.store.PutOrder(context.Background(), ddb.Order{ID: "taken", Email: w.to, Event: "Gala", Tickets: 1}, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Repair(context.Background(), "taken"); !errors.Is(err, handlers.ErrNotFannedOut) {
		t.Errorf("Repair of an order without its batch: %v, want ErrNotFannedOut", err)
	}
}
