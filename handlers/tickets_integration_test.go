package handlers_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/busywork/busywork/consumer"
	"github.com/busywork/busywork/ddb"
	"github.com/busywork/busywork/demo"
	"github.com/busywork/busywork/groups"
	"github.com/busywork/busywork/handlers"
	"github.com/busywork/busywork/internal/testenv"
	"github.com/busywork/busywork/jobs"
	"github.com/busywork/busywork/producer"
)

// ticketWorld is a queue, a table and a mailer for the ticket jobs, on the
// emulators.
type ticketWorld struct {
	t        *testing.T
	sqs      *sqs.Client
	queue    string
	dlq      string
	store    *ddb.Store
	producer *producer.Producer
	to       string
	since    time.Time
}

func newTicketWorld(t *testing.T) *ticketWorld {
	t.Helper()
	return newTicketWorldOf(t, 3)
}

// newTicketWorldOf is newTicketWorld with a queue that dead-letters a job
// after maxReceives receives.
func newTicketWorldOf(t *testing.T, maxReceives int) *ticketWorld {
	t.Helper()
	client := testenv.SQS(t)
	queue, dlq := testenv.NewQueue(t, client, testenv.QueueOptions{MaxReceiveCount: maxReceives})
	db := testenv.DynamoDB(t)
	return &ticketWorld{
		t: t, sqs: client, queue: queue, dlq: dlq,
		store:    ddb.New(db, testenv.NewTable(t, db)),
		producer: producer.New(client, queue, producer.WithTimeout(30*time.Second)),
		to:       recipient(t),
		since:    time.Now(),
	}
}

// tickets returns the ticket jobs' handler, sending follow-ups with q.
func (w *ticketWorld) tickets(q groups.Sender) *handlers.Tickets {
	return &handlers.Tickets{
		Store: w.store, Groups: groups.New(w.store, q, groups.Options{}), Mail: testenv.SESv2(w.t), From: "tickets@example.com", Key: []byte("test key"),
	}
}

// serve runs a worker with h's three handlers, inside its groups'
// middleware as the runtime puts them, until the test ends; a ticket may
// take genTimeout.
func (w *ticketWorld) serve(h *handlers.Tickets, genTimeout time.Duration) {
	w.t.Helper()
	mux := consumer.NewMux()
	mux.Use(h.Groups.Middleware())
	consumer.Handle(mux, h.Order, consumer.Timeout(handlers.TicketOrderTimeout))
	consumer.Handle(mux, h.Generate, consumer.Timeout(genTimeout))
	consumer.Handle(mux, h.Dispatch, consumer.Timeout(handlers.DispatchTicketsTimeout))
	c, err := consumer.New(w.sqs, mux, consumer.Config{
		Queues:       []consumer.QueueConfig{{URL: w.queue, Concurrency: 10}},
		DrainTimeout: 5 * time.Second,
		BackoffBase:  time.Second, BackoffMax: time.Second,
	})
	if err != nil {
		w.t.Fatal(err)
	}
	runConsumer(w.t, c)
}

// runConsumer runs c until the test ends, then stops it and checks what
// Run returned.
func runConsumer(t testing.TB, c *consumer.Consumer) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
}

// order enqueues a ticket order of n tickets and returns its id.
func (w *ticketWorld) order(n int) string {
	w.t.Helper()
	id := strings.ToLower(testenv.UniqueName(w.t, "o-", 60))
	if _, err := w.producer.Send(context.Background(), demo.TicketOrder{OrderID: id, Email: w.to, Event: "Gophercon EU", Tickets: n}); err != nil {
		w.t.Fatal(err)
	}
	return id
}

// awaitStatus waits until cond holds for order id's status.
func (w *ticketWorld) awaitStatus(id string, d time.Duration, what string, cond func(ddb.OrderStatus) bool) ddb.OrderStatus {
	w.t.Helper()
	deadline := time.Now().Add(d)
	for {
		st, err := w.store.OrderStatus(context.Background(), id)
		if err == nil && cond(st) {
			return st
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("after %s: %s did not happen; status %+v, %v", d, what, st, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// mails waits until the order's emails stop coming (none for 3 s after
// the order is dispatched) and returns them.
func (w *ticketWorld) mails(id string) []testenv.Mail {
	w.t.Helper()
	w.awaitStatus(id, 2*time.Minute, "the order dispatched", func(st ddb.OrderStatus) bool { return st.Dispatched })
	time.Sleep(3 * time.Second) // a second dispatch would mail within this
	return mailsTo(w.t, w.since, w.to)
}

// checkTickets checks that mails carry tickets 1 to n of order id, once
// each, as PDFs that name their number.
func checkTickets(t *testing.T, mails []testenv.Mail, id string, n int) {
	t.Helper()
	seen := make(map[string]int)
	for _, m := range mails {
		for _, a := range m.Attachments {
			pdf, err := base64.StdEncoding.DecodeString(a.Content)
			if err != nil || !bytes.HasPrefix(pdf, []byte("%PDF-")) || a.ContentType != "application/pdf" {
				t.Fatalf("attachment %s (%s) is not a PDF: %v", a.Filename, a.ContentType, err)
			}
			var k int
			if _, err := fmt.Sscanf(strings.TrimPrefix(a.Filename, "ticket-"+id+"-"), "%d.pdf", &k); err != nil {
				t.Fatalf("attachment name %q: %v", a.Filename, err)
			}
			if want := fmt.Sprintf("Ticket %d of %d", k, n); !bytes.Contains(readPDF(t, pdf), []byte(want)) {
				t.Errorf("%s does not show %q", a.Filename, want)
			}
			seen[a.Filename]++
		}
	}
	for k := 1; k <= n; k++ {
		name := fmt.Sprintf("ticket-%s-%d.pdf", id, k)
		if seen[name] != 1 {
			t.Errorf("%s attached %d times, want once", name, seen[name])
		}
	}
	if len(seen) != n {
		t.Errorf("%d distinct attachments, want %d", len(seen), n)
	}
}

func TestTickets_AFortyTicketOrderServedByTwoWorkersGivesOneEmailWithFortyPDFs(t *testing.T) {
	testenv.Require(t)
	w := newTicketWorld(t)
	h := w.tickets(w.producer)
	w.serve(h, handlers.GenerateTicketTimeout)
	w.serve(h, handlers.GenerateTicketTimeout) // a second worker on the same queue
	id := w.order(40)

	mails := w.mails(id)
	if len(mails) != 1 {
		t.Fatalf("%d emails for one order, want 1", len(mails))
	}
	if !strings.Contains(mails[0].Subject, "Gophercon EU") {
		t.Errorf("subject %q does not name the event", mails[0].Subject)
	}
	checkTickets(t, mails, id, 40)
	st := w.awaitStatus(id, time.Second, "the status read", func(ddb.OrderStatus) bool { return true })
	if st.Done != 40 || st.Total != 40 || len(st.Failed) != 0 || !st.Complete || st.DispatchedAt == nil {
		t.Errorf("status %+v, want 40 of 40 done and dispatched", st)
	}
}

// twice is a groups.Sender that sends every job twice, as at-least-once
// delivery may deliver it.
type twice struct{ p *producer.Producer }

func (d twice) Send(ctx context.Context, j jobs.Job, opts ...producer.SendOption) (string, error) {
	if _, err := d.p.Send(ctx, j, opts...); err != nil {
		return "", err
	}
	return d.p.Send(ctx, j, opts...)
}

func (d twice) SendBatch(ctx context.Context, js []jobs.Job, opts ...producer.SendOption) ([]producer.Result, error) {
	if _, err := d.p.SendBatch(ctx, js, opts...); err != nil {
		return nil, err
	}
	return d.p.SendBatch(ctx, js, opts...)
}

func TestTickets_EveryJobDeliveredTwiceStillSendsOneEmail(t *testing.T) {
	testenv.Require(t)
	w := newTicketWorld(t)
	w.serve(w.tickets(twice{w.producer}), handlers.GenerateTicketTimeout)
	id := strings.ToLower(testenv.UniqueName(t, "o-", 60))
	for range 2 { // the order job twice
		if _, err := w.producer.Send(context.Background(), demo.TicketOrder{OrderID: id, Email: w.to, Event: "Twice", Tickets: 12}); err != nil {
			t.Fatal(err)
		}
	}
	mails := w.mails(id)
	if len(mails) != 1 {
		t.Fatalf("%d emails, want 1", len(mails))
	}
	checkTickets(t, mails, id, 12)
	if st, _ := w.store.OrderStatus(context.Background(), id); st.Done != 12 || st.Total != 12 {
		t.Errorf("status %+v, want 12 of 12", st)
	}
}

// dispatchFailsOnce is a groups.Sender whose first send of a dispatch job
// fails, as when the worker dies after counting the last ticket.
type dispatchFailsOnce struct {
	*producer.Producer
	failed atomic.Bool
}

func (d *dispatchFailsOnce) Send(ctx context.Context, j jobs.Job, opts ...producer.SendOption) (string, error) {
	if j.Type() == demo.TypeDispatchTickets && d.failed.CompareAndSwap(false, true) {
		return "", errors.New("injected: the worker died before enqueuing the dispatch")
	}
	return d.Producer.Send(ctx, j, opts...)
}

func TestTickets_ALostDispatchIsEnqueuedByTheLastTicketsRedelivery(t *testing.T) {
	testenv.Require(t)
	w := newTicketWorld(t)
	q := &dispatchFailsOnce{Producer: w.producer}
	w.serve(w.tickets(q), handlers.GenerateTicketTimeout)
	id := w.order(5)
	mails := w.mails(id)
	if !q.failed.Load() {
		t.Fatal("the dispatch's first send was not made")
	}
	if len(mails) != 1 {
		t.Fatalf("%d emails, want 1", len(mails))
	}
	checkTickets(t, mails, id, 5)
}

// failingRender fails ticket bad's render for good while broken is set.
type failingRender struct {
	bad    int
	broken atomic.Bool
}

func (f *failingRender) render(ctx context.Context, key []byte, t handlers.TicketPDF) ([]byte, error) {
	if t.Number == f.bad && f.broken.Load() {
		return nil, consumer.Permanent(errors.New("injected: the ticket template is broken"))
	}
	return handlers.RenderTicket(ctx, key, t)
}

// serveFailingTicket runs a worker whose render of ticket bad fails for
// good until the test fixes it, and returns the handler and the render.
func (w *ticketWorld) serveFailingTicket(bad int) (*handlers.Tickets, *failingRender) {
	f := &failingRender{bad: bad}
	f.broken.Store(true)
	h := w.tickets(w.producer)
	h.Render = f.render
	w.serve(h, handlers.GenerateTicketTimeout)
	return h, f
}

func TestTickets_AFailedTicketIsListedAndItsReplayCompletesTheOrder(t *testing.T) {
	testenv.Require(t)
	w := newTicketWorld(t)
	_, f := w.serveFailingTicket(3)
	id := w.order(6)

	st := w.awaitStatus(id, time.Minute, "ticket 3 failed and the rest done", func(st ddb.OrderStatus) bool {
		return st.Done == 5 && len(st.Failed) == 1
	})
	if st.Failed[0] != 3 || !strings.Contains(st.Errors[3], "template is broken") || st.Complete || st.Dispatched {
		t.Fatalf("status %+v, want ticket 3 failed with its reason, the order incomplete", st)
	}
	if mails := mailsTo(t, w.since, w.to); len(mails) != 0 {
		t.Fatalf("%d emails for an incomplete order", len(mails))
	}

	// The cause is fixed; the dead letter goes back to the queue.
	f.broken.Store(false)
	replay(t, w.sqs, w.dlq, w.queue)
	mails := w.mails(id)
	if len(mails) != 1 {
		t.Fatalf("%d emails after the replay, want 1", len(mails))
	}
	checkTickets(t, mails, id, 6)
	if st, _ := w.store.OrderStatus(context.Background(), id); len(st.Failed) != 0 || st.Done != 6 {
		t.Errorf("status after the replay %+v, want 6 done and none failed", st)
	}
}

// replay moves the one message of dlq back to queue with its body, job
// id and group, as `busywork dlq replay` will.
func replay(t *testing.T, client *sqs.Client, dlq, queue string) {
	t.Helper()
	m := testenv.ReceiveAll(context.Background(), t, client, dlq, 1, 10*time.Second)[0]
	_, err := client.SendMessage(context.Background(), &sqs.SendMessageInput{
		QueueUrl: aws.String(queue), MessageBody: m.Body,
		MessageAttributes: map[string]types.MessageAttributeValue{
			jobs.AttrJobID:   m.MessageAttributes[jobs.AttrJobID],
			jobs.AttrGroupID: m.MessageAttributes[jobs.AttrGroupID],
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: aws.String(dlq), ReceiptHandle: m.ReceiptHandle}); err != nil {
		t.Fatal(err)
	}
}

func TestTickets_AHangingRenderIsCutOffAndRetriedAndTheOrderCompletes(t *testing.T) {
	testenv.Require(t)
	w := newTicketWorld(t)
	var hung sync.Once
	var hangs atomic.Int32
	h := w.tickets(w.producer)
	h.Render = func(ctx context.Context, key []byte, tk handlers.TicketPDF) ([]byte, error) {
		if tk.Number == 2 {
			hanging := false
			hung.Do(func() { hanging = true })
			if hanging {
				hangs.Add(1)
				<-ctx.Done() // hangs until the engine's deadline cuts it off
				return nil, ctx.Err()
			}
		}
		return handlers.RenderTicket(ctx, key, tk)
	}
	w.serve(h, 2*time.Second)
	id := w.order(4)
	mails := w.mails(id)
	if hangs.Load() != 1 || len(mails) != 1 {
		t.Fatalf("%d hung renders, %d emails; want 1 and 1", hangs.Load(), len(mails))
	}
	checkTickets(t, mails, id, 4)
}

func TestTickets_AThousandTicketOrderIsDispatchedOnceInSeveralEmails(t *testing.T) {
	testenv.Require(t)
	w := newTicketWorld(t)
	h := w.tickets(w.producer)
	h.MaxEmailBytes = 1 << 20 // 1000 tickets of about 2.3 KB are about 3.6 MB of MIME
	w.serve(h, handlers.GenerateTicketTimeout)
	id := w.order(demo.MaxTickets)
	mails := w.mails(id)
	if len(mails) < 2 {
		t.Fatalf("%d emails for 1000 tickets under a 1 MiB limit, want several", len(mails))
	}
	for _, m := range mails {
		if !strings.Contains(m.Subject, "of "+fmt.Sprint(len(mails))+")") {
			t.Errorf("subject %q does not say which part of %d it is", m.Subject, len(mails))
		}
		// Each email names the run of tickets it carries.
		var numbers []int
		for _, a := range m.Attachments {
			var k int
			if _, err := fmt.Sscanf(strings.TrimPrefix(a.Filename, "ticket-"+id+"-"), "%d.pdf", &k); err != nil {
				t.Fatalf("attachment name %q: %v", a.Filename, err)
			}
			numbers = append(numbers, k)
		}
		if len(numbers) == 0 {
			t.Fatalf("email %q has no attachments", m.Subject)
		}
		first, last := slices.Min(numbers), slices.Max(numbers)
		if html, text := fmt.Sprintf("Tickets %d–%d", first, last), fmt.Sprintf("with tickets %d–%d;", first, last); !strings.Contains(m.Body.HTML, html) || !strings.Contains(m.Body.Text, text) {
			t.Errorf("email %q carries tickets %d to %d, but its bodies do not say so (%q, %q):\nHTML: %s\ntext: %s", m.Subject, first, last, html, text, m.Body.HTML, m.Body.Text)
		}
	}
	checkTickets(t, mails, id, demo.MaxTickets)
}

func TestTickets_AnOrdersTicketsCarryItsBuyerAsTheirTenantWhichIsNotTheAddress(t *testing.T) {
	w := newTicketWorld(t)
	capture := &testenv.SQSCapture{}
	q := producer.New(testenv.SQS(t, capture.Option()), w.queue, producer.WithTimeout(30*time.Second))
	id := strings.ToLower(testenv.UniqueName(t, "o-", 60))
	buyer := "Ada.Lovelace@Example.COM"
	if err := w.tickets(q).Order(t.Context(), demo.TicketOrder{OrderID: id, Email: buyer, Event: "Gala", Tickets: 3}); err != nil {
		t.Fatal(err)
	}
	tenant := handlers.BuyerTenant(buyer)
	if tenant != handlers.BuyerTenant(" ada.lovelace@example.com ") || strings.Contains(strings.ToLower(tenant), "ada") ||
		len(tenant) > producer.MaxTenantBytes || tenant == handlers.BuyerTenant("grace@example.com") {
		t.Fatalf("BuyerTenant(%q) = %q, want one per normalised address that does not show it", buyer, tenant)
	}
	sent := capture.GroupIDs(t)
	for n := 1; n <= 3; n++ {
		body, _ := jobs.Marshal(demo.GenerateTicket{OrderID: id, Number: n, Total: 3, Event: "Gala", Attendee: buyer})
		if got, ok := sent[string(body)]; !ok || got != tenant {
			t.Errorf("ticket %d went with MessageGroupId %q (sent: %v), want the buyer's tenant %q", n, got, ok, tenant)
		}
	}
}
