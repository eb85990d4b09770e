package jobs_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"github.com/busywork/busywork/jobs"
)

// welcome and invoice are job types of the tests' own, as a service
// declares them.
type welcome struct {
	UserID string `json:"user_id"`
}

func (welcome) Type() string    { return "welcome_email" }
func (welcome) Validate() error { return nil }

type invoice struct {
	OrderID string `json:"order_id"`
	Number  int    `json:"number"`
	Total   int    `json:"total"`
	Email   string `json:"email"`
}

func (invoice) Type() string    { return "invoice" }
func (invoice) Validate() error { return nil }

func TestMarshal_PutsTypeFirstAndRoundTrips(t *testing.T) {
	tests := []struct {
		job  jobs.Job
		want string
	}{
		{welcome{UserID: "ada"}, `{"type":"welcome_email","user_id":"ada"}`},
		{invoice{OrderID: "o1", Number: 2, Total: 5, Email: "a@example.com"}, `{"type":"invoice","order_id":"o1","number":2,"total":5,"email":"a@example.com"}`},
		{jobs.Ping{Message: "hi", WorkMS: 5}, `{"type":"ping","message":"hi","work_ms":5}`},
		{jobs.Ping{}, `{"type":"ping"}`},
	}
	for _, tt := range tests {
		t.Run(tt.job.Type(), func(t *testing.T) {
			body, err := jobs.Marshal(tt.job)
			if err != nil {
				t.Fatal(err)
			}
			if string(body) != tt.want {
				t.Fatalf("Marshal = %s, want %s", body, tt.want)
			}
			typ, err := jobs.PeekType(body)
			if err != nil || typ != tt.job.Type() {
				t.Fatalf("PeekType = %q, %v; want %q", typ, err, tt.job.Type())
			}
			back := reflect.New(reflect.TypeOf(tt.job))
			if err := json.Unmarshal(body, back.Interface()); err != nil {
				t.Fatal(err)
			}
			if got := back.Elem().Interface(); got != tt.job {
				t.Fatalf("round trip = %#v, want %#v", got, tt.job)
			}
		})
	}
}

func TestMarshal_EscapesCharactersSQSRefuses(t *testing.T) {
	msg := "a\ufffeb\uffffc\ufffd"
	body, err := jobs.Marshal(jobs.Ping{Message: msg})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(body, []byte("\ufffe")) || bytes.Contains(body, []byte("\uffff")) {
		t.Fatalf("body %q holds U+FFFE or U+FFFF, which SQS refuses", body)
	}
	var back jobs.Ping
	if err := json.Unmarshal(body, &back); err != nil || back.Message != msg {
		t.Fatalf("round trip = %q, %v; want %q", back.Message, err, msg)
	}
}

type listJob []int

func (listJob) Type() string    { return "list" }
func (listJob) Validate() error { return nil }

func TestMarshal_RefusesNonObjectJobs(t *testing.T) {
	if _, err := jobs.Marshal(listJob{1}); !errors.Is(err, jobs.ErrMalformed) {
		t.Fatalf("Marshal(list) error = %v, want ErrMalformed", err)
	}
}

func TestPeekType_RejectsMalformedBodies(t *testing.T) {
	for _, body := range []string{
		``, `not json`, `[]`, `"ping"`, `{}`, `{"type":""}`, `{"type":7}`, `{"type":null}`, `{"type":"ping"`,
	} {
		if typ, err := jobs.PeekType([]byte(body)); !errors.Is(err, jobs.ErrMalformed) {
			t.Errorf("PeekType(%q) = %q, %v; want ErrMalformed", body, typ, err)
		}
	}
}

func TestSignVerify(t *testing.T) {
	key, body := []byte("secret"), []byte(`{"type":"ping"}`)
	sig := jobs.Sign(key, body)
	tests := []struct {
		name string
		key  []byte
		body []byte
		sig  string
		want bool
	}{
		{"genuine", key, body, sig, true},
		{"other key", []byte("guess"), body, sig, false},
		{"altered body", key, []byte(`{"type":"pong"}`), sig, false},
		{"truncated signature", key, body, sig[:10], false},
		{"not hex", key, body, "zz" + sig[2:], false},
		{"empty", key, body, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := jobs.Verify(tt.key, tt.body, tt.sig); got != tt.want {
				t.Fatalf("Verify = %v, want %v", got, tt.want)
			}
		})
	}
}

// FuzzPeekType checks that PeekType never panics, that whatever it accepts
// names a non-empty type, and that Marshal's output always peeks back.
func FuzzPeekType(f *testing.F) {
	for _, s := range []string{`{"type":"ping"}`, `{"type":"welcome_email","user_id":"ada"}`, `{}`, `[1]`, `{"type":1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		typ, err := jobs.PeekType(body)
		if err == nil && typ == "" {
			t.Fatalf("PeekType(%q) accepted an empty type", body)
		}
		msg := jobs.Ping{Message: string(body)}
		out, err := jobs.Marshal(msg)
		if err != nil {
			t.Fatal(err)
		}
		if typ, err := jobs.PeekType(out); err != nil || typ != "ping" {
			t.Fatalf("PeekType(Marshal(%q)) = %q, %v", body, typ, err)
		}
	})
}
