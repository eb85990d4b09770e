package consumer_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/busywork/busywork/consumer"
	"github.com/busywork/busywork/jobs"
)

// seat is a job type of the tests: a seat in a row of 1 to 10.
type seat struct {
	Row   string `json:"row"`
	Place int    `json:"place"`
}

func (seat) Type() string { return "seat" }

func (s seat) Validate() error {
	if s.Place < 1 || s.Place > 10 {
		return fmt.Errorf("place: %d is not between 1 and 10", s.Place)
	}
	return nil
}

func parseMux() *consumer.Mux {
	mux := consumer.NewMux()
	consumer.Handle(mux, func(context.Context, jobs.Ping) error { return nil })
	consumer.Handle(mux, func(context.Context, seat) error { return nil })
	return mux
}

func TestMux_ParseIsStrictAboutWhatAPersonTyped(t *testing.T) {
	tests := []struct {
		name    string
		typ     string
		fields  string
		want    jobs.Job
		wantErr error  // nil means success
		wantMsg string // substring of the error
	}{
		{"seat", "seat", `{"row":"B","place":2}`, seat{Row: "B", Place: 2}, nil, ""},
		{"ping", "ping", `{"message":"hi"}`, jobs.Ping{Message: "hi"}, nil, ""},
		{"ping without fields", "ping", ` {} `, jobs.Ping{}, nil, ""},
		{"ping with too much work", "ping", `{"work_ms":60001}`, nil, consumer.ErrInvalid, "invalid ping job: work_ms: 60001 is not between 0 and 60000"},
		{"whole body with its own type", "ping", `{"type":"ping","message":"hi"}`, jobs.Ping{Message: "hi"}, nil, ""},
		{"unknown type lists the known ones", "pong", `{}`, nil, consumer.ErrUnknownType, `unknown job type "pong" (known: ping, seat)`},
		{"empty type", "", `{}`, nil, consumer.ErrUnknownType, `unknown job type ""`},
		{"not JSON", "ping", `{message:"hi"}`, nil, jobs.ErrMalformed, "JSON: ping job fields: invalid character"},
		{"empty", "ping", ``, nil, jobs.ErrMalformed, "JSON: "},
		{"array", "ping", `[]`, nil, jobs.ErrMalformed, "JSON: "},
		{"null", "ping", `null`, nil, jobs.ErrMalformed, "null is not an object"},
		{"trailing data", "ping", `{} {}`, nil, jobs.ErrMalformed, "JSON: "},
		{"misspelt field", "ping", `{"mesage":"hi"}`, nil, jobs.ErrMalformed, `unknown field "mesage"`},
		{"wrong field type", "seat", `{"row":"B","place":"1"}`, nil, jobs.ErrMalformed, "place"},
		{"other type field", "ping", `{"type":"seat"}`, nil, jobs.ErrMalformed, `field "type" is "seat", not "ping"`},
		{"invalid", "seat", `{"row":"B","place":11}`, nil, consumer.ErrInvalid, `invalid seat job: place: 11 is not between 1 and 10`},
	}
	mux := parseMux()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			job, err := mux.Parse(tt.typ, []byte(tt.fields))
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

func TestMux_ParseInvalidWrapsValidateError(t *testing.T) {
	_, err := parseMux().Parse("seat", []byte(`{}`))
	want := seat{}.Validate()
	if !errors.Is(err, consumer.ErrInvalid) || err.Error() != "invalid seat job: "+want.Error() {
		t.Fatalf("Parse error = %v, want ErrInvalid with %v", err, want)
	}
}
