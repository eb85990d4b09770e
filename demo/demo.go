package demo

import (
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"unicode"

	"github.com/busywork/busywork/jobs"
)

// Wire names of the demo's job types.
const (
	TypeMagicLink       = "magic_link"
	TypeGenerateTicket  = "generate_ticket"
	TypeDispatchTickets = "dispatch_tickets"
	TypeTicketOrder     = "ticket_order"
)

// MaxTickets is the largest number of tickets one order may fan out into.
const MaxTickets = 1000

// MagicLink asks the worker to email a one-time login link to Email, if a
// user with that address exists.
type MagicLink struct {
	Email string `json:"email"`
}

// Type returns "magic_link".
func (MagicLink) Type() string { return TypeMagicLink }

// Validate checks that Email is a single plain address.
func (j MagicLink) Validate() error {
	return validateEmail(j.Email)
}

// TicketOrder asks the worker to fan an order out: create its batch of
// Tickets tickets and enqueue one GenerateTicket job per ticket. The web
// app enqueues this one job for the whole order, whatever its size.
type TicketOrder struct {
	OrderID string `json:"order_id"`
	Email   string `json:"email"`
	Event   string `json:"event"`
	Tickets int    `json:"tickets"`
}

// Type returns "ticket_order".
func (TicketOrder) Type() string { return TypeTicketOrder }

// MaxEventBytes bounds an order's event name.
const MaxEventBytes = 200

// Validate checks the order id, the buyer's address, that Event is
// printable and at most MaxEventBytes, and that 1 <= Tickets <= MaxTickets.
func (j TicketOrder) Validate() error {
	var errs []error
	if err := ValidateOrderID(j.OrderID); err != nil {
		errs = append(errs, err)
	}
	if err := validateEmail(j.Email); err != nil {
		errs = append(errs, err)
	}
	if err := validateEvent(j.Event); err != nil {
		errs = append(errs, err)
	}
	if j.Tickets < 1 || j.Tickets > MaxTickets {
		errs = append(errs, fmt.Errorf("tickets: %d is not between 1 and %d", j.Tickets, MaxTickets))
	}
	return errors.Join(errs...)
}

// GenerateTicket asks the worker to render ticket Number (1-based) of the
// Total tickets of order OrderID, for Event and its Attendee (so that the
// job needs no read of the order).
type GenerateTicket struct {
	OrderID  string `json:"order_id"`
	Number   int    `json:"ticket_number"`
	Total    int    `json:"total"`
	Event    string `json:"event"`
	Attendee string `json:"attendee"`
}

// Type returns "generate_ticket".
func (GenerateTicket) Type() string { return TypeGenerateTicket }

// Validate checks the order id, that 1 <= Number <= Total <= MaxTickets,
// and the event as TicketOrder does.
func (j GenerateTicket) Validate() error {
	var errs []error
	if err := ValidateOrderID(j.OrderID); err != nil {
		errs = append(errs, err)
	}
	if j.Total < 1 || j.Total > MaxTickets {
		errs = append(errs, fmt.Errorf("total: %d is not between 1 and %d", j.Total, MaxTickets))
	}
	if j.Number < 1 || j.Number > j.Total {
		errs = append(errs, fmt.Errorf("ticket_number: %d is not between 1 and total (%d)", j.Number, j.Total))
	}
	if err := validateEvent(j.Event); err != nil {
		errs = append(errs, err)
	}
	if len(j.Attendee) > 254 {
		errs = append(errs, fmt.Errorf("attendee: %d bytes is longer than 254", len(j.Attendee)))
	}
	return errors.Join(errs...)
}

// DispatchTickets asks the worker to send the finished tickets of order
// OrderID to its buyer. It is enqueued once, when the last ticket is done.
type DispatchTickets struct {
	OrderID string `json:"order_id"`
}

// Type returns "dispatch_tickets".
func (DispatchTickets) Type() string { return TypeDispatchTickets }

// Validate checks the order id.
func (j DispatchTickets) Validate() error {
	return ValidateOrderID(j.OrderID)
}

// ValidateOrderID checks an order id. An order's tickets are a fan-out
// group (package groups) under the order's id, so it accepts exactly what
// jobs.ValidateGroupID does, 1 to jobs.MaxGroupIDBytes letters, digits, '-'
// and '_', and names the field order_id. An id that fails it names no
// order.
func ValidateOrderID(id string) error {
	if err := jobs.ValidateGroupID(id); err != nil {
		return errors.New("order_id" + strings.TrimPrefix(err.Error(), "group_id"))
	}
	return nil
}

func validateEmail(email string) error {
	if email == "" {
		return errors.New("email: missing")
	}
	if len(email) > 254 {
		return fmt.Errorf("email: %d bytes is longer than 254", len(email))
	}
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Name != "" || addr.Address != strings.TrimSpace(email) {
		return fmt.Errorf("email: %q is not a plain address", email)
	}
	return nil
}

func validateEvent(event string) error {
	switch {
	case strings.TrimSpace(event) == "":
		return errors.New("event: missing")
	case len(event) > MaxEventBytes:
		return fmt.Errorf("event: %d bytes is longer than %d", len(event), MaxEventBytes)
	case strings.ContainsFunc(event, func(r rune) bool { return !unicode.IsPrint(r) }):
		return fmt.Errorf("event: %q holds characters that are not printable", event)
	}
	return nil
}
