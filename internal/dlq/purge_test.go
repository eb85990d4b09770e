package dlq_test

import (
	"slices"
	"testing"
	"time"

	"github.com/busywork/busywork/internal/dlq"
	"github.com/busywork/busywork/internal/testenv"
	"github.com/busywork/busywork/jobs"
)

func TestStats_RowsCountEachTypeWithEachCauseAndTheirFilterSelectsThem(t *testing.T) {
	w := newWorld(t, testenv.QueueOptions{MaxReceiveCount: 1})
	before := time.Now()
	w.mixed()
	// A magic link that failed for another reason than the three
	// throttled ones: its own row.
	w.deadLetter(letter{id: "ml-4", typ: "magic_link", body: `{"type":"magic_link","email":"dee@example.com"}`,
		err: "invalid magic_link job: email: \"dee\" is not a plain address"})

	st, err := w.q.Stats(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	want := []dlq.Row{
		{Type: "magic_link", Error: "ses: SendEmail: TooManyRequestsException: Maximum sending rate exceeded. RequestID: <id>", N: 3},
		{Type: jobs.TypePing, Error: "invalid ping job: work_ms: <n> is not between <n> and <n>", N: 2},
		{Type: "magic_link", Error: `invalid magic_link job: email: "…" is not a plain address`, N: 1},
		{Type: "ticket_order", Error: dlq.NoError, N: 1},
	}
	got := make([]dlq.Row, len(st.Rows))
	for i, r := range st.Rows {
		if r.Oldest.Before(before.Add(-time.Second)) || r.Oldest.After(time.Now()) {
			t.Errorf("row %d: Oldest %v, want the time it was dead-lettered", i, r.Oldest)
		}
		r.Oldest = time.Time{}
		got[i] = r
	}
	if !slices.Equal(got, want) {
		t.Fatalf("Rows =\n%v\nwant\n%v", got, want)
	}

	// Each row's filter selects exactly its letters: the redriven one by
	// its missing error, the throttled ones though each error differs.
	for _, r := range st.Rows {
		letters, err := w.q.Peek(ctx(t), dlq.PeekOptions{Max: 10, Filter: r.Filter()})
		if err != nil || len(letters) != r.N {
			t.Errorf("Peek with the filter of row %+v: %d letters, %v; want %d", r, len(letters), err, r.N)
		}
	}
}

func TestPurge_DeletesOnlyTheRowsLettersAndLeavesTheOthersVisible(t *testing.T) {
	w := newWorld(t, testenv.QueueOptions{MaxReceiveCount: 1})
	w.mixed()
	row := dlq.Row{Type: jobs.TypePing, Error: "invalid ping job: work_ms: <n> is not between <n> and <n>"}

	var progress []dlq.Progress
	sum, err := w.q.Purge(ctx(t), dlq.PurgeOptions{Filter: row.Filter(), Progress: func(p dlq.Progress) { progress = append(progress, p) }})
	if err != nil || !sum.OK() {
		t.Fatalf("Purge: %v, %+v", err, sum)
	}
	if sum.Matched != 2 || sum.Moved != 2 || sum.Skipped != 4 || sum.Failed != 0 {
		t.Errorf("summary %+v, want 2 matched and deleted, 4 skipped", sum.Progress)
	}
	if len(progress) == 0 || progress[len(progress)-1] != sum.Progress {
		t.Errorf("progress reports %v, want the last to be %+v", progress, sum.Progress)
	}

	// The other four are in the DLQ, visible at once; the queue got
	// nothing.
	left := w.all(w.q.DeadLetterURL, 4)
	for _, id := range []string{"p-1", "p-2"} {
		if _, ok := left[id]; ok {
			t.Errorf("purged job %s is still in the DLQ", id)
		}
	}
	for _, id := range []string{"ml-1", "ml-2", "ml-3"} {
		if _, ok := left[id]; !ok {
			t.Errorf("job %s left the DLQ", id)
		}
	}
	w.empty(w.q.URL)
}
