package main_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/busywork/busywork/ddb"
	"github.com/busywork/busywork/handlers"
	"github.com/busywork/busywork/internal/testenv"
)

// newOrder stores an order of tickets tickets, created at created, in a
// table of the test's own, and returns the store, the order's id and the
// environment that points busywork at the table.
func newOrder(t *testing.T, tickets int, created time.Time) (*ddb.Store, string, []string) {
	t.Helper()
	testenv.Require(t)
	table := testenv.NewTable(t, testenv.DynamoDB(t))
	store := ddb.New(testenv.DynamoDB(t), table)
	id := strings.ToLower(testenv.UniqueName(t, "order-", 100))
	order := ddb.Order{ID: id, Email: "ada@example.com", Event: "Ada's Gala", Tickets: tickets, CreatedAt: created}
	if _, err := store.PutOrder(t.Context(), order, 0); err != nil {
		t.Fatal(err)
	}
	return store, id, []string{"BUSYWORK_TABLE=" + table}
}

// batchStatus runs `busywork batch status` with args and fails the test
// unless it exits 0 and logs nothing.
func batchStatus(t *testing.T, env []string, args ...string) string {
	t.Helper()
	r := runBusywork(t, env, append([]string{"batch", "status"}, args...)...)
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("batch status %q: exit %d, stderr:\n%s", args, r.code, r.stderr)
	}
	return r.stdout
}

func TestBatchStatus_PrintsProgressFailedTicketsAndDispatch(t *testing.T) {
	created := time.Unix(1_760_000_000, 0)
	store, id, env := newOrder(t, 5, created)
	ctx := t.Context()

	head := "order      " + id + "\nevent      Ada's Gala\ncreated    2025-10-09T08:53:20Z\n"
	if got, want := batchStatus(t, env, id), head+"tickets    0 of 5 done\ncomplete   no\ndispatched no\n"; got != want {
		t.Errorf("before the batch, stdout:\n%s\nwant:\n%s", got, want)
	}

	if _, err := store.CreateBatch(ctx, id, 5, nil, 0); err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{4, 1, 2} {
		if _, err := store.MarkChildDone(ctx, id, n); err != nil {
			t.Fatal(err)
		}
	}
	for n, reason := range map[int]string{5: "render: timed out", 3: `pdf: "bad" font`} {
		if err := store.MarkChildFailed(ctx, id, n, reason); err != nil {
			t.Fatal(err)
		}
	}
	want := head + "tickets    3 of 5 done\ncomplete   no\ndispatched no\n" +
		"failed     2 tickets\n  ticket 3: pdf: \"bad\" font\n  ticket 5: render: timed out\n" +
		"action     2 tickets failed (see errors). Fix the cause, then run `busywork batch repair " + id + "`, which enqueues them again, " +
		"or replay their dead letters: `busywork dlq replay --lane bulk --type generate_ticket`. The order then completes and is emailed once.\n"
	if got := batchStatus(t, env, id); got != want {
		t.Errorf("with failures, stdout:\n%s\nwant:\n%s", got, want)
	}

	for _, n := range []int{3, 5} {
		if _, err := store.MarkChildDone(ctx, id, n); err != nil {
			t.Fatal(err)
		}
	}
	if err := store.MarkBatchDispatched(ctx, id); err != nil {
		t.Fatal(err)
	}
	st, err := store.OrderStatus(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if st.CompletedAt == nil || st.DispatchedAt == nil {
		t.Fatalf("the store's status %+v, want completed and dispatched", st)
	}
	want = head + "tickets    5 of 5 done\ncomplete   " + st.CompletedAt.UTC().Format(time.RFC3339) +
		"\ndispatched " + st.DispatchedAt.UTC().Format(time.RFC3339) + "\n"
	if got := batchStatus(t, env, id); got != want {
		t.Errorf("dispatched, stdout:\n%s\nwant:\n%s", got, want)
	}
}

func TestBatchStatus_JSONIsTheOrderStatus(t *testing.T) {
	store, id, env := newOrder(t, 3, time.Unix(1_760_000_000, 0))
	ctx := t.Context()
	if _, err := store.CreateBatch(ctx, id, 3, nil, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := store.MarkChildDone(ctx, id, 2); err != nil {
		t.Fatal(err)
	}
	if err := store.MarkChildFailed(ctx, id, 3, "render: timed out"); err != nil {
		t.Fatal(err)
	}

	out := batchStatus(t, env, "--json", id)
	if strings.Count(out, "\n") != 1 || !strings.HasSuffix(out, "\n") {
		t.Errorf("stdout %q, want one line of JSON", out)
	}
	var got ddb.OrderStatus
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("stdout %q: %v", out, err)
	}
	want, err := store.OrderStatus(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	want.Action = handlers.OrderAction(want, time.Now(), handlers.Routes().Lane) // a failed ticket: what to do
	// Compared as JSON: a decoded time is in UTC, the store's in Local.
	gotJSON, _ := json.Marshal(got)
	wantJSON, _ := json.Marshal(want)
	if !bytes.Equal(gotJSON, wantJSON) || got.Done != 1 || len(got.Failed) != 1 || got.Errors[3] != "render: timed out" || got.Action == "" {
		t.Errorf("--json printed\n%s\nwant\n%s", gotJSON, wantJSON)
	}
}

func TestBatchStatus_UnknownOrderExitsOneNamingIt(t *testing.T) {
	_, _, env := newOrder(t, 1, time.Time{})
	id := strings.ToLower(testenv.UniqueName(t, "missing-", 100))
	for _, args := range [][]string{{id}, {"--json", id}} {
		r := runBusywork(t, env, append([]string{"batch", "status"}, args...)...)
		if r.code != 1 || !strings.Contains(r.stderr, "busywork batch: no order "+id+" in table ") {
			t.Errorf("batch status %q: exit %d, stderr:\n%s\nwant exit 1 naming order %s", args, r.code, r.stderr, id)
		}
		if r.stdout != "" {
			t.Errorf("batch status %q: stdout %q, want nothing", args, r.stdout)
		}
	}
}

func TestBatchStatus_AMissingTableSaysToBootstrap(t *testing.T) {
	testenv.Require(t)
	table := strings.ToLower(testenv.UniqueName(t, "no-such-table-", 100))
	r := runBusywork(t, []string{"BUSYWORK_TABLE=" + table}, "batch", "status", "order-1")
	if r.code != 1 || !strings.Contains(r.stderr, "table "+table+" does not exist: run `busywork bootstrap`") {
		t.Fatalf("exit %d, stderr:\n%s\nwant exit 1 saying to run bootstrap", r.code, r.stderr)
	}
}
