package jobs_test

import (
	"strings"
	"testing"

	"github.com/busywork/busywork/jobs"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		job     jobs.Job
		wantErr string // substring; "" means valid
	}{
		{"magic link", jobs.MagicLink{Email: "ada@example.com"}, ""},
		{"magic link without email", jobs.MagicLink{}, "email: missing"},
		{"magic link with display name", jobs.MagicLink{Email: "Ada <ada@example.com>"}, "not a plain address"},
		{"magic link with two addresses", jobs.MagicLink{Email: "a@example.com, b@example.com"}, "not a plain address"},
		{"magic link not an address", jobs.MagicLink{Email: "ada"}, "not a plain address"},
		{"magic link too long", jobs.MagicLink{Email: strings.Repeat("a", 250) + "@example.com"}, "longer than 254"},
		{"ticket", jobs.GenerateTicket{OrderID: "o-1", Number: 3, Total: 3, Event: "G"}, ""},
		{"ticket number zero", jobs.GenerateTicket{OrderID: "o-1", Number: 0, Total: 3, Event: "G"}, "ticket_number: 0"},
		{"ticket number past total", jobs.GenerateTicket{OrderID: "o-1", Number: 4, Total: 3, Event: "G"}, "ticket_number: 4"},
		{"ticket total too large", jobs.GenerateTicket{OrderID: "o-1", Number: 1, Total: jobs.MaxTickets + 1}, "total: 1001"},
		{"ticket without event", jobs.GenerateTicket{OrderID: "o-1", Number: 1, Total: 1}, "event: missing"},
		{"ticket bad order id", jobs.GenerateTicket{OrderID: "o/1", Number: 1, Total: 1}, "order_id"},
		{"dispatch", jobs.DispatchTickets{OrderID: "o_1"}, ""},
		{"dispatch without order", jobs.DispatchTickets{}, "order_id: missing"},
		{"order", jobs.TicketOrder{OrderID: "o-1", Email: "ada@example.com", Event: "Gophercon", Tickets: 40}, ""},
		{"order of the most tickets", jobs.TicketOrder{OrderID: "o-1", Email: "ada@example.com", Event: "G", Tickets: jobs.MaxTickets}, ""},
		{"order of no tickets", jobs.TicketOrder{OrderID: "o-1", Email: "ada@example.com", Event: "G"}, "tickets: 0"},
		{"order of too many tickets", jobs.TicketOrder{OrderID: "o-1", Email: "ada@example.com", Event: "G", Tickets: 1001}, "tickets: 1001"},
		{"order without event", jobs.TicketOrder{OrderID: "o-1", Email: "ada@example.com", Event: " ", Tickets: 1}, "event: missing"},
		{"order with a control character", jobs.TicketOrder{OrderID: "o-1", Email: "ada@example.com", Event: "a\nb", Tickets: 1}, "not printable"},
		{"order with a long event", jobs.TicketOrder{OrderID: "o-1", Email: "ada@example.com", Event: strings.Repeat("e", 201), Tickets: 1}, "longer than 200"},
		{"order with a bad email", jobs.TicketOrder{OrderID: "o-1", Email: "ada", Event: "G", Tickets: 1}, "not a plain address"},
		{"ping", jobs.Ping{}, ""},
		{"ping too long", jobs.Ping{Message: strings.Repeat("x", 1025)}, "longer than 1024"},
		{"ping with work", jobs.Ping{WorkMS: 100}, ""},
		{"ping with the most work", jobs.Ping{WorkMS: jobs.MaxPingWorkMS}, ""},
		{"ping with negative work", jobs.Ping{WorkMS: -1}, "work_ms: -1 is not between 0 and 60000"},
		{"ping with too much work", jobs.Ping{WorkMS: jobs.MaxPingWorkMS + 1}, "work_ms: 60001 is not between 0 and 60000"},
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

func TestNormalizeEmail(t *testing.T) {
	if got := jobs.NormalizeEmail("  Ada@Example.COM \n"); got != "ada@example.com" {
		t.Fatalf("NormalizeEmail = %q", got)
	}
}
