package demo_test

import (
	"strings"
	"testing"

	"github.com/busywork/busywork/demo"
	"github.com/busywork/busywork/jobs"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		job     jobs.Job
		wantErr string // substring; "" means valid
	}{
		{"magic link", demo.MagicLink{Email: "ada@example.com"}, ""},
		{"magic link without email", demo.MagicLink{}, "email: missing"},
		{"magic link with display name", demo.MagicLink{Email: "Ada <ada@example.com>"}, "not a plain address"},
		{"magic link with two addresses", demo.MagicLink{Email: "a@example.com, b@example.com"}, "not a plain address"},
		{"magic link not an address", demo.MagicLink{Email: "ada"}, "not a plain address"},
		{"magic link too long", demo.MagicLink{Email: strings.Repeat("a", 250) + "@example.com"}, "longer than 254"},
		{"ticket", demo.GenerateTicket{OrderID: "o-1", Number: 3, Total: 3, Event: "G"}, ""},
		{"ticket number zero", demo.GenerateTicket{OrderID: "o-1", Number: 0, Total: 3, Event: "G"}, "ticket_number: 0"},
		{"ticket number past total", demo.GenerateTicket{OrderID: "o-1", Number: 4, Total: 3, Event: "G"}, "ticket_number: 4"},
		{"ticket total too large", demo.GenerateTicket{OrderID: "o-1", Number: 1, Total: demo.MaxTickets + 1}, "total: 1001"},
		{"ticket without event", demo.GenerateTicket{OrderID: "o-1", Number: 1, Total: 1}, "event: missing"},
		{"ticket bad order id", demo.GenerateTicket{OrderID: "o/1", Number: 1, Total: 1}, "order_id"},
		{"dispatch", demo.DispatchTickets{OrderID: "o_1"}, ""},
		{"dispatch without order", demo.DispatchTickets{}, "order_id: missing"},
		{"order", demo.TicketOrder{OrderID: "o-1", Email: "ada@example.com", Event: "Gophercon", Tickets: 40}, ""},
		{"order of the most tickets", demo.TicketOrder{OrderID: "o-1", Email: "ada@example.com", Event: "G", Tickets: demo.MaxTickets}, ""},
		{"order of no tickets", demo.TicketOrder{OrderID: "o-1", Email: "ada@example.com", Event: "G"}, "tickets: 0"},
		{"order of too many tickets", demo.TicketOrder{OrderID: "o-1", Email: "ada@example.com", Event: "G", Tickets: 1001}, "tickets: 1001"},
		{"order without event", demo.TicketOrder{OrderID: "o-1", Email: "ada@example.com", Event: " ", Tickets: 1}, "event: missing"},
		{"order with a control character", demo.TicketOrder{OrderID: "o-1", Email: "ada@example.com", Event: "a\nb", Tickets: 1}, "not printable"},
		{"order with a long event", demo.TicketOrder{OrderID: "o-1", Email: "ada@example.com", Event: strings.Repeat("e", 201), Tickets: 1}, "longer than 200"},
		{"order with a bad email", demo.TicketOrder{OrderID: "o-1", Email: "ada", Event: "G", Tickets: 1}, "not a plain address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.job.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Validate() = %v, want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Validate() = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

// An order id is the id of its tickets' fan-out group, so it must be one.
func TestValidateOrderID_AcceptsExactlyTheGroupIDs(t *testing.T) {
	longest := strings.Repeat("o", jobs.MaxGroupIDBytes)
	for _, id := range []string{"", "o-1", "O_1", "7", longest, longest + "o", strings.Repeat("o", 128), "o/1", "o 1", "ö", "o.1"} {
		got, want := demo.ValidateOrderID(id), jobs.ValidateGroupID(id)
		if (got == nil) != (want == nil) {
			t.Errorf("ValidateOrderID(%q) = %v, ValidateGroupID = %v; want both to accept it or both to refuse it", id, got, want)
		}
		if got != nil && (!strings.HasPrefix(got.Error(), "order_id: ") || strings.Contains(got.Error(), "group_id")) {
			t.Errorf("ValidateOrderID(%q) = %v, want an error about order_id", id, got)
		}
	}
	if err := (demo.GenerateTicket{OrderID: longest + "o", Number: 1, Total: 1, Event: "G"}).Validate(); err == nil || !strings.Contains(err.Error(), "order_id") {
		t.Errorf("a ticket of an order id longer than a group id: %v, want an order_id error", err)
	}
}
