package jobs

import (
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"unicode"
)

// Job is implemented by every job type. Type returns the job's wire name,
// the value of the body's "type" field; it must not depend on the receiver's
// fields. Validate reports what is wrong with the job's fields, or nil.
type Job interface {
	Type() string
	Validate() error
}

// Wire names of the job types defined here.
const (
	TypeMagicLink       = "magic_link"
	TypeGenerateTicket  = "generate_ticket"
	TypeDispatchTickets = "dispatch_tickets"
	TypeTicketOrder     = "ticket_order"
	TypePing            = "ping"
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
	if err := validateID("order_id", j.OrderID); err != nil {
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
	return validateID("order_id", j.OrderID)
}

// MaxPingWorkMS is the longest a ping job may ask the worker to wait, in
// milliseconds.
const MaxPingWorkMS = 60_000

// Ping is a job the worker only logs. Use it to smoke-test a deployment:
//
//	busywork send ping '{"message":"hello"}'
//
// WorkMS makes the worker wait that many milliseconds before it logs, so a
// load test can run jobs of a realistic duration:
//
//	busywork send ping '{"message":"load","work_ms":100}'
type Ping struct {
	Message string `json:"message,omitempty"`
	// WorkMS is how long the handler waits before it logs, 0 to
	// MaxPingWorkMS milliseconds.
	WorkMS int `json:"work_ms,omitempty"`
}

// Type returns "ping".
func (Ping) Type() string { return TypePing }

// Validate checks that Message is at most 1024 bytes and that WorkMS is
// between 0 and MaxPingWorkMS.
func (j Ping) Validate() error {
	var errs []error
	if len(j.Message) > 1024 {
		errs = append(errs, fmt.Errorf("message: %d bytes is longer than 1024", len(j.Message)))
	}
	if j.WorkMS < 0 || j.WorkMS > MaxPingWorkMS {
		errs = append(errs, fmt.Errorf("work_ms: %d is not between 0 and %d", j.WorkMS, MaxPingWorkMS))
	}
	return errors.Join(errs...)
}

// NormalizeEmail returns the canonical form of an email address, the one
// users are stored under: trimmed of surrounding space and lower-cased.
func NormalizeEmail(email string) string {
	return strings.ToLower(strings.TrimSpace(email))
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

// ValidateJobID checks a job id given by a caller (a deterministic id for a
// follow-up job): 1 to 128 letters, digits, '-' and '_'.
func ValidateJobID(id string) error { return validateID("job_id", id) }

// MaxGroupIDBytes is the longest group id: short enough that the job ids
// package groups derives from it (the id, '-' and a child's number or
// "follow-up") pass ValidateJobID.
const MaxGroupIDBytes = 100

// ValidateGroupID checks a fan-out group's id (see package groups): 1 to
// MaxGroupIDBytes letters, digits, '-' and '_'.
func ValidateGroupID(id string) error {
	if len(id) > MaxGroupIDBytes {
		return fmt.Errorf("group_id: %d bytes is longer than %d", len(id), MaxGroupIDBytes)
	}
	return validateID("group_id", id)
}

// ValidateOrderID checks an order id as TicketOrder.Validate does: 1 to
// 128 letters, digits, '-' and '_'. An id that fails it names no order.
func ValidateOrderID(id string) error { return validateID("order_id", id) }

func validateID(field, id string) error {
	switch {
	case id == "":
		return fmt.Errorf("%s: missing", field)
	case len(id) > 128:
		return fmt.Errorf("%s: %d bytes is longer than 128", field, len(id))
	}
	for _, r := range id {
		if !(r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			return fmt.Errorf("%s: %q may hold only letters, digits, '-' and '_'", field, id)
		}
	}
	return nil
}
