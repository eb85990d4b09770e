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
	"github.com/busywork/busywork/demo"
	"github.com/busywork/busywork/groups"
	"github.com/busywork/busywork/internal/claim"
	"github.com/busywork/busywork/jobs"
	"github.com/busywork/busywork/producer"
)

// Timeouts of the ticket jobs.
const (
	// TicketOrderTimeout covers storing the order and its batch and
	// enqueuing up to demo.MaxTickets jobs.
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
	claim.Store
	PutOrder(ctx context.Context, o ddb.Order, ttl time.Duration) (bool, error)
	GetOrder(ctx context.Context, id string) (ddb.Order, error)
	PutTicket(ctx context.Context, orderID string, n int, pdf []byte, ttl time.Duration) (bool, error)
	HasTicket(ctx context.Context, orderID string, n int) (bool, error)
	Tickets(ctx context.Context, orderID string) ([]ddb.Ticket, error)
}

// Tickets runs the jobs of a ticket order, a group (package groups) named
// by the order's id: ticket_order starts it with one generate_ticket job
// per ticket, each of which renders and stores its ticket; the group's
// middleware counts each ticket once and enqueues the follow-up,
// dispatch_tickets, once the last is done, and runs it once; it emails
// the tickets.
type Tickets struct {
	Store  TicketStore
	Groups *groups.Groups
	Mail   MagicLinkMailer
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

// Order stores the order and starts its group: a generate_ticket job per
// ticket, and dispatch_tickets to follow. Run twice, it creates nothing
// twice: the order and group writes are conditional, and the fan-out runs
// under the order job's claim.
func (h *Tickets) Order(ctx context.Context, j demo.TicketOrder) error {
	log := h.logger().With("order_id", j.OrderID)
	order := ddb.Order{ID: j.OrderID, Email: j.Email, Event: j.Event, Tickets: j.Tickets, CreatedAt: time.Now()}
	if _, err := h.Store.PutOrder(ctx, order, OrderTTL); err != nil {
		return fmt.Errorf("ticket order: %w", err)
	}
	return claim.Once(ctx, h.Store, "fanout-"+j.OrderID, "ticket order", log, func(ctx context.Context) (string, error) {
		js := make([]jobs.Job, j.Tickets)
		for i := range js {
			js[i] = demo.GenerateTicket{OrderID: j.OrderID, Number: i + 1, Total: j.Tickets, Event: j.Event, Attendee: j.Email}
		}
		// The buyer is the tickets' tenant: one big order does not delay
		// other buyers' tickets on a fair queue.
		tenant := producer.Tenant(BuyerTenant(j.Email))
		if err := h.Groups.Start(ctx, j.OrderID, js, demo.DispatchTickets{OrderID: j.OrderID}, tenant); err != nil {
			// Some may have gone out: their repeats count once.
			return "", fmt.Errorf("ticket order: %w", err)
		}
		log.InfoContext(ctx, "ticket order: tickets enqueued", "tickets", j.Tickets)
		return fmt.Sprintf("%d tickets enqueued", j.Tickets), nil
	})
}

// Generate renders and stores ticket j.Number; the group's middleware
// counts it done. A retried job first looks for the ticket its earlier
// attempt may have stored, and does not render it again; on a first
// receive the store's condition alone keeps a duplicate delivery from
// storing the ticket twice.
func (h *Tickets) Generate(ctx context.Context, j demo.GenerateTicket) error {
	if d, _ := consumer.DeliveryFromContext(ctx); d.ReceiveCount > 1 {
		stored, err := h.Store.HasTicket(ctx, j.OrderID, j.Number)
		if err != nil || stored {
			return err
		}
	}
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
	return nil
}

// Dispatch emails every ticket of an order, in as many emails as
// MaxEmailBytes needs, each sent once under a claim of its own, so that a
// retry after some were sent sends the rest. It runs as the order's
// group's follow-up: once every ticket is made, and once per order.
func (h *Tickets) Dispatch(ctx context.Context, j demo.DispatchTickets) error {
	log := h.logger().With("order_id", j.OrderID)
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
		files[i] = TicketFile{Name: fmt.Sprintf("ticket-%s-%d.pdf", j.OrderID, t.Number), Number: t.Number, PDF: t.PDF}
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
		id := fmt.Sprintf("%s-part-%d-of-%d", groups.FollowUpID(j.OrderID), k+1, len(parts))
		err := claim.Once(ctx, h.Store, id, "dispatch tickets", log, func(ctx context.Context) (string, error) {
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
