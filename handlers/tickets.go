package handlers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/busywork/busywork/consumer"
	"github.com/busywork/busywork/ddb"
	"github.com/busywork/busywork/jobs"
	"github.com/busywork/busywork/producer"
)

// Timeouts of the ticket jobs.
const (
	// TicketOrderTimeout covers storing the order and its batch and
	// enqueuing up to jobs.MaxTickets jobs.
	TicketOrderTimeout = time.Minute
	// GenerateTicketTimeout is how long one ticket may take to render and
	// store: a render that hangs is cut off and retried.
	GenerateTicketTimeout = 10 * time.Second
	// DispatchTicketsTimeout covers reading every ticket of an order and
	// emailing them, in several emails for a large order.
	DispatchTicketsTimeout = 5 * time.Minute
)

// OrderTTL is how long orders, their batches and their tickets are kept.
const OrderTTL = 30 * 24 * time.Hour

// TicketStore is the part of *ddb.Store the ticket jobs use.
type TicketStore interface {
	JobClaims
	PutOrder(ctx context.Context, o ddb.Order, ttl time.Duration) (bool, error)
	GetOrder(ctx context.Context, id string) (ddb.Order, error)
	CreateBatch(ctx context.Context, id string, total int, ttl time.Duration) (bool, error)
	MarkChildDone(ctx context.Context, id string, n int) (bool, error)
	MarkChildFailed(ctx context.Context, id string, n int, reason string) error
	GetBatch(ctx context.Context, id string) (ddb.Batch, error)
	MarkBatchDispatched(ctx context.Context, id string) error
	MarkBatchStalled(ctx context.Context, id string, n int, reason string) error
	PutTicket(ctx context.Context, orderID string, n int, pdf []byte, ttl time.Duration) (bool, error)
	HasTicket(ctx context.Context, orderID string, n int) (bool, error)
	Tickets(ctx context.Context, orderID string) ([]ddb.Ticket, error)
}

// Enqueuer is the part of *producer.Producer the ticket jobs use to
// enqueue their follow-up jobs.
type Enqueuer interface {
	Send(ctx context.Context, job jobs.Job, opts ...producer.SendOption) (string, error)
	SendBatch(ctx context.Context, js []jobs.Job, opts ...producer.SendOption) ([]producer.Result, error)
}

// Tickets runs the jobs of a ticket order: ticket_order fans the order out
// into one generate_ticket job per ticket, each of which renders and
// stores its ticket and counts itself done in the order's batch; the
// completion that finds the batch complete enqueues dispatch_tickets under
// a job id derived from the order, which emails the tickets once.
type Tickets struct {
	Store TicketStore
	Queue Enqueuer
	Mail  MagicLinkMailer
	// From is the sender of the ticket emails.
	From string
	// Key signs the verification codes printed on tickets.
	Key []byte
	// Render renders one ticket; nil means RenderTicket.
	Render func(ctx context.Context, key []byte, t TicketPDF) ([]byte, error)
	// MaxEmailBytes bounds one email's raw size; 0 means
	// DefaultMaxEmailBytes.
	MaxEmailBytes int
	Logger        *slog.Logger
}

// DispatchJobID is the job id of order orderID's dispatch_tickets job: the
// same for every completion that enqueues it.
func DispatchJobID(orderID string) string { return "dispatch-" + orderID }

// Order stores the order and its batch and enqueues its generate_ticket
// jobs. Run twice, it creates nothing twice: the order and batch writes
// are conditional, and the fan-out runs under the order job's claim.
func (h *Tickets) Order(ctx context.Context, j jobs.TicketOrder) error {
	log := h.logger().With("order_id", j.OrderID)
	order := ddb.Order{ID: j.OrderID, Email: j.Email, Event: j.Event, Tickets: j.Tickets, CreatedAt: time.Now()}
	if _, err := h.Store.PutOrder(ctx, order, OrderTTL); err != nil {
		return fmt.Errorf("ticket order: %w", err)
	}
	if _, err := h.Store.CreateBatch(ctx, j.OrderID, j.Tickets, OrderTTL); err != nil {
		return fmt.Errorf("ticket order: %w", err)
	}
	return once(ctx, h.Store, "fanout-"+j.OrderID, "ticket order", log, func(ctx context.Context) (string, error) {
		js := make([]jobs.Job, j.Tickets)
		for i := range js {
			js[i] = jobs.GenerateTicket{OrderID: j.OrderID, Number: i + 1, Total: j.Tickets, Event: j.Event, Attendee: j.Email}
		}
		if _, err := h.Queue.SendBatch(ctx, js); err != nil {
			// Some may have gone out: their repeats count once.
			return "", fmt.Errorf("ticket order: enqueue tickets: %w", err)
		}
		log.InfoContext(ctx, "ticket order: tickets enqueued", "tickets", j.Tickets)
		return fmt.Sprintf("%d tickets enqueued", j.Tickets), nil
	})
}

// Generate renders and stores ticket j.Number, counts it done, and
// enqueues the dispatch when the batch is complete, also when this
// delivery finds itself counted already (its first attempt may have died
// before the dispatch was sent). A retried job first looks for the ticket
// its earlier attempt may have stored, and does not render it again; on a
// first receive the store's condition alone keeps a duplicate delivery
// from storing the ticket twice. A ticket that fails for good, or on its
// last receive, is recorded as failed on its order; one that was counted
// done but could not enqueue the dispatch on its last receive is recorded
// as the order's stall (ddb.Store.MarkBatchStalled), so that the order
// does not sit complete and not dispatched with no trace.
func (h *Tickets) Generate(ctx context.Context, j jobs.GenerateTicket) (err error) {
	defer func() {
		if err != nil {
			h.recordFailure(ctx, j, err)
		}
	}()
	stored := false
	if d, _ := consumer.DeliveryFromContext(ctx); d.ReceiveCount > 1 {
		if stored, err = h.Store.HasTicket(ctx, j.OrderID, j.Number); err != nil {
			return fmt.Errorf("generate ticket: %w", err)
		}
	}
	if !stored {
		pdf, err := h.render(ctx, TicketPDF{OrderID: j.OrderID, Event: j.Event, Attendee: j.Attendee, Number: j.Number, Total: j.Total})
		if err != nil {
			return fmt.Errorf("generate ticket %d of order %s: %w", j.Number, j.OrderID, err)
		}
		_, err = h.Store.PutTicket(ctx, j.OrderID, j.Number, pdf, OrderTTL)
		if errors.Is(err, ddb.ErrTicketTooLarge) {
			return consumer.Permanent(fmt.Errorf("generate ticket %d of order %s: %w", j.Number, j.OrderID, err))
		}
		if err != nil {
			return fmt.Errorf("generate ticket: %w", err)
		}
	}
	complete, err := h.Store.MarkChildDone(ctx, j.OrderID, j.Number)
	if err != nil {
		return fmt.Errorf("generate ticket: %w", err)
	}
	if complete {
		if err := h.enqueueDispatch(ctx, j.OrderID); err != nil {
			return &dispatchNotEnqueued{fmt.Errorf("generate ticket: enqueue the dispatch: %w", err)}
		}
	}
	return nil
}

// enqueueDispatch enqueues order orderID's dispatch_tickets job under its
// deterministic id (DispatchJobID): however many completions, replays and
// repairs enqueue it, the tickets are emailed once.
func (h *Tickets) enqueueDispatch(ctx context.Context, orderID string) error {
	_, err := h.Queue.Send(ctx, jobs.DispatchTickets{OrderID: orderID}, producer.JobID(DispatchJobID(orderID)))
	return err
}

// dispatchNotEnqueued is Generate's error when its ticket was counted done
// but the order's dispatch could not be enqueued.
type dispatchNotEnqueued struct{ err error }

func (e *dispatchNotEnqueued) Error() string { return e.err.Error() }
func (e *dispatchNotEnqueued) Unwrap() error { return e.err }

// endsJob reports whether err ends the job of the delivery in ctx: a
// permanent error, or any error on the job's last receive (SQS moves it
// to the dead-letter queue next).
func endsJob(ctx context.Context, err error) bool {
	d, _ := consumer.DeliveryFromContext(ctx)
	return consumer.IsPermanent(err) || d.LastTry()
}

// recordFailure records what err, which ends the ticket's job, leaves
// undone on its order: the ticket as failed, or, when the ticket was
// counted done but the dispatch could not be enqueued, the order's stall.
func (h *Tickets) recordFailure(ctx context.Context, j jobs.GenerateTicket, err error) {
	if !endsJob(ctx, err) {
		return
	}
	settle, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
	defer cancel()
	if notEnqueued := (*dispatchNotEnqueued)(nil); errors.As(err, &notEnqueued) {
		h.recordStall(ctx, settle, j.OrderID, j.Number, err)
		return
	}
	if ferr := h.Store.MarkChildFailed(settle, j.OrderID, j.Number, err.Error()); ferr != nil {
		h.logger().ErrorContext(ctx, "generate ticket: could not record the ticket as failed", "order_id", j.OrderID,
			"ticket_number", j.Number, "error", ferr)
	}
}

// recordStall records on order orderID, with the context settle, that its
// dispatch will not happen by itself: ticket n (or, for ddb.FollowUp, the
// dispatch job) failed for good with err. It logs an error either way: an
// operator must act (`busywork batch repair`).
func (h *Tickets) recordStall(ctx, settle context.Context, orderID string, n int, err error) {
	log := h.logger().With("order_id", orderID, "error", err)
	if n != ddb.FollowUp {
		log = log.With("ticket_number", n)
	}
	serr := h.Store.MarkBatchStalled(settle, orderID, n, err.Error())
	switch {
	case errors.Is(serr, ddb.ErrIncomplete):
		return // a dispatch sent before its order was complete: nothing is stalled
	case serr != nil:
		log.ErrorContext(ctx, "ticket order: its tickets will not be emailed without a repair, and recording that failed",
			"record_error", serr, "action", "busywork batch repair "+orderID)
	default:
		log.ErrorContext(ctx, "ticket order: its tickets will not be emailed without a repair; recorded on the order",
			"action", "busywork batch repair "+orderID)
	}
}

// Dispatch emails every ticket of a complete order, in as many emails as
// MaxEmailBytes needs, each sent once under a claim of its own, and marks
// the order dispatched. A repeat sends nothing. A dispatch that fails for
// good, or on its last receive, is recorded as the order's stall.
func (h *Tickets) Dispatch(ctx context.Context, j jobs.DispatchTickets) (err error) {
	defer func() {
		if err != nil && endsJob(ctx, err) {
			settle, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
			defer cancel()
			h.recordStall(ctx, settle, j.OrderID, ddb.FollowUp, err)
		}
	}()
	log := h.logger().With("order_id", j.OrderID)
	batch, err := h.Store.GetBatch(ctx, j.OrderID)
	if err != nil {
		return fmt.Errorf("dispatch tickets: %w", err)
	}
	switch {
	case batch.Dispatched():
		log.InfoContext(ctx, "dispatch tickets: already dispatched, sent nothing", "outcome", "duplicate")
		return nil
	case !batch.Complete():
		return consumer.Permanent(fmt.Errorf("dispatch tickets: order %s has %d of %d tickets done", j.OrderID, len(batch.Done), batch.Total))
	}
	order, err := h.Store.GetOrder(ctx, j.OrderID)
	if err != nil {
		return fmt.Errorf("dispatch tickets: %w", err)
	}
	tickets, err := h.Store.Tickets(ctx, j.OrderID)
	if err != nil {
		return fmt.Errorf("dispatch tickets: %w", err)
	}
	if len(tickets) != order.Tickets {
		return fmt.Errorf("dispatch tickets: order %s has %d of its %d tickets stored", j.OrderID, len(tickets), order.Tickets)
	}
	files := make([]TicketFile, len(tickets))
	for i, t := range tickets {
		files[i] = TicketFile{Name: fmt.Sprintf("ticket-%s-%d.pdf", j.OrderID, t.Number), PDF: t.PDF}
	}
	limit := h.MaxEmailBytes
	if limit <= 0 {
		limit = DefaultMaxEmailBytes
	}
	parts, err := SplitTicketFiles(files, limit)
	if err != nil {
		return consumer.Permanent(fmt.Errorf("dispatch tickets: %w", err))
	}
	for k, part := range parts {
		id := fmt.Sprintf("%s-part-%d-of-%d", DispatchJobID(j.OrderID), k+1, len(parts))
		err := once(ctx, h.Store, id, "dispatch tickets", log, func(ctx context.Context) (string, error) {
			out, err := h.Mail.SendEmail(ctx, TicketEmail(h.From, order.Email, order.Event, k+1, len(parts), part))
			if err != nil {
				return "", fmt.Errorf("dispatch tickets: email %d of %d: %w", k+1, len(parts), err)
			}
			return "ses:" + aws.ToString(out.MessageId), nil
		})
		if err != nil {
			return err
		}
	}
	if err := h.Store.MarkBatchDispatched(ctx, j.OrderID); err != nil {
		return fmt.Errorf("dispatch tickets: %w", err)
	}
	log.InfoContext(ctx, "dispatch tickets: sent", "tickets", len(files), "emails", len(parts))
	return nil
}

func (h *Tickets) render(ctx context.Context, t TicketPDF) ([]byte, error) {
	if h.Render != nil {
		return h.Render(ctx, h.Key, t)
	}
	return RenderTicket(ctx, h.Key, t)
}

func (h *Tickets) logger() *slog.Logger {
	if h.Logger != nil {
		return h.Logger
	}
	return slog.Default()
}
