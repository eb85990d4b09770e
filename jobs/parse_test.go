package jobs_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/busywork/busywork/jobs"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		typ     string
		fields  string
		want    jobs.Job
		wantErr error  // nil means success
		wantMsg string // substring of the error
	}{
		{"magic link", "magic_link", `{"email":"ada@example.com"}`, jobs.MagicLink{Email: "ada@example.com"}, nil, ""},
		{"ticket", "generate_ticket", `{"order_id":"o-1","ticket_number":2,"total":3,"event":"G"}`, jobs.GenerateTicket{OrderID: "o-1", Number: 2, Total: 3, Event: "G"}, nil, ""},
		{"dispatch", "dispatch_tickets", `{"order_id":"o-1"}`, jobs.DispatchTickets{OrderID: "o-1"}, nil, ""},
		{"ping", "ping", `{"message":"hi"}`, jobs.Ping{Message: "hi"}, nil, ""},
		{"ping without fields", "ping", ` {} `, jobs.Ping{}, nil, ""},
		{"ping with work", "ping", `{"message":"hi","work_ms":250}`, jobs.Ping{Message: "hi", WorkMS: 250}, nil, ""},
		{"ping with too much work", "ping", `{"work_ms":60001}`, nil, jobs.ErrInvalid, "invalid ping job: work_ms: 60001 is not between 0 and 60000"},
		{"whole body with its own type", "ping", `{"type":"ping","message":"hi"}`, jobs.Ping{Message: "hi"}, nil, ""},
		{"unknown type lists the known ones", "pong", `{}`, nil, jobs.ErrUnknownType,
			`unknown job type "pong" (known: dispatch_tickets, generate_ticket, magic_link, ping, ticket_order)`},
		{"empty type", "", `{}`, nil, jobs.ErrUnknownType, `unknown job type ""`},
		{"not JSON", "ping", `{message:"hi"}`, nil, jobs.ErrMalformed, "JSON: ping job fields: invalid character"},
		{"empty", "ping", ``, nil, jobs.ErrMalformed, "JSON: "},
		{"array", "ping", `[]`, nil, jobs.ErrMalformed, "JSON: "},
		{"null", "ping", `null`, nil, jobs.ErrMalformed, "null is not an object"},
		{"trailing data", "ping", `{} {}`, nil, jobs.ErrMalformed, "JSON: "},
		{"misspelt field", "ping", `{"mesage":"hi"}`, nil, jobs.ErrMalformed, `unknown field "mesage"`},
		{"wrong field type", "generate_ticket", `{"order_id":"o","ticket_number":"1","total":1}`, nil, jobs.ErrMalformed, "ticket_number"},
		{"other type field", "ping", `{"type":"magic_link"}`, nil, jobs.ErrMalformed, `field "type" is "magic_link", not "ping"`},
		{"invalid", "magic_link", `{"email":"ada"}`, nil, jobs.ErrInvalid, `invalid magic_link job: email: "ada" is not a plain address`},
		{"invalid ticket", "generate_ticket", `{"order_id":"o","ticket_number":4,"total":3}`, nil, jobs.ErrInvalid, "ticket_number: 4"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			job, err := jobs.Parse(tt.typ, []byte(tt.fields))
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Parse = %v", err)
				}
				if job != tt.want {
					t.Fatalf("Parse = %#v, want %#v", job, tt.want)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("Parse error = %v; want one wrapping %v and containing %q", err, tt.wantErr, tt.wantMsg)
			}
			if job != nil {
				t.Fatalf("Parse returned job %#v with its error", job)
			}
		})
	}
}

func TestParse_InvalidWrapsValidateError(t *testing.T) {
	_, err := jobs.Parse("magic_link", []byte(`{}`))
	want := jobs.MagicLink{}.Validate()
	if !errors.Is(err, jobs.ErrInvalid) || err.Error() != "invalid magic_link job: "+want.Error() {
		t.Fatalf("Parse error = %v, want ErrInvalid with %v", err, want)
	}
}

func TestTypes_ListsEveryJobTypeSorted(t *testing.T) {
	want := []string{jobs.TypeDispatchTickets, jobs.TypeGenerateTicket, jobs.TypeMagicLink, jobs.TypePing, jobs.TypeTicketOrder}
	if got := jobs.Types(); !slices.Equal(got, want) {
		t.Fatalf("Types() = %v, want %v", got, want)
	}
	for _, typ := range jobs.Types() {
		if _, err := jobs.Parse(typ, []byte(`{}`)); errors.Is(err, jobs.ErrUnknownType) {
			t.Errorf("Parse(%q) = %v: a listed type is unknown", typ, err)
		}
	}
}
