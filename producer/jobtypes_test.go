package producer_test

import (
	"errors"
	"fmt"
	"strings"
)

// welcome and ticket are job types of the tests' own, as a service
// declares them: a user's welcome email, and one ticket of an order.
type welcome struct {
	UserID string `json:"user_id"`
}

func (welcome) Type() string { return "welcome_email" }

// Validate refuses a user id that is not 1 to 63 lower-case letters,
// digits and '-'.
func (j welcome) Validate() error {
	switch {
	case j.UserID == "":
		return errors.New("user_id: missing")
	case len(j.UserID) > 63 || strings.ContainsFunc(j.UserID, func(r rune) bool {
		return !(r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z')
	}):
		return fmt.Errorf("user_id: %q is not 1 to 63 lower-case letters, digits and '-'", j.UserID)
	}
	return nil
}

type ticket struct {
	OrderID string `json:"order_id"`
	Number  int    `json:"ticket_number"`
	Total   int    `json:"total"`
}

func (ticket) Type() string { return "ticket" }

// Validate reports every problem: a missing order id, and a number not
// between 1 and Total.
func (j ticket) Validate() error {
	var errs []error
	if j.OrderID == "" {
		errs = append(errs, errors.New("order_id: missing"))
	}
	if j.Number < 1 || j.Number > j.Total {
		errs = append(errs, fmt.Errorf("ticket_number: %d is not between 1 and total (%d)", j.Number, j.Total))
	}
	return errors.Join(errs...)
}

// receipt is a job that no routing table here names: it goes to the
// default lane.
type receipt struct {
	OrderID string `json:"order_id"`
}

func (receipt) Type() string    { return "receipt" }
func (receipt) Validate() error { return nil }
