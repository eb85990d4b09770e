package dlq_test

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/busywork/busywork/internal/dlq"
	"github.com/busywork/busywork/internal/testenv"
	"github.com/busywork/busywork/jobs"
)

// mixed fills the DLQ with 3 magic links that failed on SES throttling
// (each error with its own request id), 2 pings that failed validation
// (different values), and 1 ticket order that SQS moved after too many
// receives (no error attribute), and returns the 6 job ids.
func (w *world) mixed() []string {
	w.t.Helper()
	throttled := []letter{
		{id: "ml-1", typ: "magic_link", body: `{"type":"magic_link","email":"ada@example.com"}`,
			err: "ses: SendEmail: TooManyRequestsException: Maximum sending rate exceeded. RequestID: 1f0e8f2a-7c56-4c2b-9a41-0d7a3f1b2c3d"},
		{id: "ml-2", typ: "magic_link", body: `{"type":"magic_link","email":"bob@example.com"}`,
			err: "ses: SendEmail: TooManyRequestsException: Maximum sending rate exceeded. RequestID: 2a1b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"},
		{id: "ml-3", typ: "magic_link", body: `{"type":"magic_link","email":"cy@example.com"}`,
			err: "ses: SendEmail: TooManyRequestsException: Maximum sending rate exceeded. RequestID: 3b2c4d5e-6f7a-4b8c-9d0e-1f2a3b4c5d6e"},
	}
	invalid := []letter{
		{id: "p-1", typ: jobs.TypePing, body: `{"type":"ping","work_ms":70000}`, err: "invalid ping job: work_ms: 70000 is not between 0 and 60000"},
		{id: "p-2", typ: jobs.TypePing, body: `{"type":"ping","work_ms":99999}`, err: "invalid ping job: work_ms: 99999 is not between 0 and 60000"},
	}
	w.deadLetter(append(throttled, invalid...)...)
	w.redrive(`{"type":"ticket_order","order_id":"o1","email":"ada@example.com","event":"Go","tickets":2}`)
	return []string{"ml-1", "ml-2", "ml-3", "p-1", "p-2"}
}

func TestStats_CountsByTypeAndErrorAndLeavesEveryMessageInTheDLQ(t *testing.T) {
	w := newWorld(t, testenv.QueueOptions{MaxReceiveCount: 1})
	before := time.Now()
	ids := w.mixed()

	st, err := w.q.Stats(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if st.Messages != 6 || st.Reported != 6 {
		t.Errorf("Messages %d, Reported %d; want 6 and 6", st.Messages, st.Reported)
	}
	wantTypes := []dlq.Count{{"magic_link", 3}, {jobs.TypePing, 2}, {"ticket_order", 1}}
	if !slices.Equal(st.Types, wantTypes) {
		t.Errorf("Types = %v, want %v", st.Types, wantTypes)
	}
	wantErrors := []dlq.Count{
		{"ses: SendEmail: TooManyRequestsException: Maximum sending rate exceeded. RequestID: <id>", 3},
		{"invalid ping job: work_ms: <n> is not between <n> and <n>", 2},
		{dlq.NoError, 1},
	}
	if !slices.Equal(st.Errors, wantErrors) {
		t.Errorf("Errors = %v, want %v", st.Errors, wantErrors)
	}
	if st.Oldest.Before(before.Add(-time.Second)) || st.Oldest.After(time.Now()) || st.Retention != 4*24*time.Hour {
		t.Errorf("Oldest %v (want after %v), Retention %v (testenv's DLQ keeps SQS's default 4 days)", st.Oldest, before, st.Retention)
	}
	var out strings.Builder
	if err := st.Write(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`messages +6 received \(SQS counted 6`, `(?m)^3 +magic_link$`, `(?m)^1 +\(no error attribute.*\)$`, `oldest +20\d\d-`} {
		if !regexp.MustCompile(want).MatchString(out.String()) {
			t.Errorf("Write lacks %s:\n%s", want, out.String())
		}
	}

	// Every message is still there, and visible at once.
	left := w.all(w.q.DeadLetterURL, 6)
	for _, id := range ids {
		if _, ok := left[id]; !ok {
			t.Errorf("job %s left the DLQ", id)
		}
	}
}

func TestPeek_ShowsWhatMatchesAndLeavesEveryMessageInTheDLQ(t *testing.T) {
	w := newWorld(t, testenv.QueueOptions{MaxReceiveCount: 1})
	w.mixed()

	tests := []struct {
		name string
		opts dlq.PeekOptions
		want []string // job ids, in any order
	}{
		{"all", dlq.PeekOptions{}, []string{"ml-1", "ml-2", "ml-3", "p-1", "p-2", "(redriven)"}},
		{"by type", dlq.PeekOptions{Filter: dlq.Filter{Type: jobs.TypePing}}, []string{"p-1", "p-2"}},
		{"by error, in any case", dlq.PeekOptions{Filter: dlq.Filter{Error: "RATE EXCEEDED"}}, []string{"ml-1", "ml-2", "ml-3"}},
		{"by type and error", dlq.PeekOptions{Filter: dlq.Filter{Type: jobs.TypePing, Error: "99999"}}, []string{"p-2"}},
		{"at most 2", dlq.PeekOptions{Max: 2, Filter: dlq.Filter{Type: "magic_link"}}, nil},
		{"nothing matches", dlq.PeekOptions{Filter: dlq.Filter{Type: "dispatch_tickets"}}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			letters, err := w.q.Peek(ctx(t), tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, l := range letters {
				id := l.JobID
				if l.Type == "ticket_order" {
					if l.JobID != l.MessageID || l.Error != "" || l.FailedAt != "" {
						t.Errorf("redriven letter %+v: want its MessageId as job id, no error", l)
					}
					id = "(redriven)"
				}
				got = append(got, id)
			}
			slices.Sort(got)
			if tt.opts.Max == 2 {
				if len(got) != 2 || !strings.HasPrefix(got[0], "ml-") || !strings.HasPrefix(got[1], "ml-") {
					t.Fatalf("got %v, want 2 magic links", got)
				}
				return
			}
			if want := slices.Sorted(slices.Values(tt.want)); !slices.Equal(got, want) {
				t.Fatalf("got %v, want %v", got, want)
			}
		})
	}

	letters, err := w.q.Peek(ctx(t), dlq.PeekOptions{Filter: dlq.Filter{Type: jobs.TypePing, Error: "70000"}})
	if err != nil || len(letters) != 1 {
		t.Fatalf("peek p-1: %v, %d letters", err, len(letters))
	}
	l := letters[0]
	// Received by each of the 7 peeks before: 8 receives, this one's too.
	if l.JobID != "p-1" || l.Body != `{"type":"ping","work_ms":70000}` || l.FailedAt != "2026-12-01T10:00:01Z" ||
		!strings.HasPrefix(l.Error, "invalid ping job") || l.ReceiveCount < 2 {
		t.Errorf("letter = %+v", l)
	}
	if len(w.all(w.q.DeadLetterURL, 6)) != 6 {
		t.Fatal("peek took messages out of the DLQ")
	}
}

func TestPeek_SeesEveryMessageOfALargeDLQOnce(t *testing.T) {
	w := newWorld(t, testenv.QueueOptions{})
	w.deadLetter(pings("p", 95, "boom")...)
	letters, err := w.q.Peek(ctx(t), dlq.PeekOptions{Max: 200})
	if err != nil {
		t.Fatal(err)
	}
	seen := make(map[string]bool)
	for _, l := range letters {
		if seen[l.JobID] {
			t.Errorf("job %s returned twice", l.JobID)
		}
		seen[l.JobID] = true
	}
	for i := range 95 {
		if !seen["p-"+strconv.Itoa(i)] {
			t.Errorf("job p-%d not seen", i)
		}
	}
}
