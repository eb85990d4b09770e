package producer_test

import "github.com/busywork/busywork/producer"

// welcome and ticket are the job types of the package's own tests
// (fake_test.go): a user's welcome email, and one ticket of an order.
type (
	welcome = producer.Welcome
	ticket  = producer.Ticket
)

// receipt is a job that no routing table here names: it goes to the
// default lane.
type receipt struct {
	OrderID string `json:"order_id"`
}

func (receipt) Type() string    { return "receipt" }
func (receipt) Validate() error { return nil }
