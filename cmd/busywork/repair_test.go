package main_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/busywork/busywork/ddb"
	"github.com/busywork/busywork/internal/testenv"
)

func TestBatchRepair_AStalledOrderSaysWhatToDoAndRepairingItTwiceEmailsOnce(t *testing.T) {
	testenv.Require(t)
	table := testenv.NewTable(t, testenv.DynamoDB(t))
	store := ddb.New(testenv.DynamoDB(t), table)
	env := append(workerEnv(newLanes(t, testenv.QueueOptions{})), "BUSYWORK_TABLE="+table)
	ctx := t.Context()

	// An order whose two tickets are made, but whose last ticket could not
	// enqueue the dispatch on its last receive, as the worker records it.
	to := strings.ToLower(testenv.UniqueName(t, "ada-", 60)) + "@example.com"
	id := strings.ToLower(testenv.UniqueName(t, "order-", 100))
	if _, err := store.PutOrder(ctx, ddb.Order{ID: id, Email: to, Event: "Gala", Tickets: 2}, 0); err != nil {
		t.Fatal(err)
	}
	dispatch := &ddb.FollowUpJob{Type: "dispatch_tickets", Fields: []byte(`{"order_id":"` + id + `"}`)}
	if _, err := store.CreateBatch(ctx, id, 2, dispatch, 0); err != nil {
		t.Fatal(err)
	}
	for n := 1; n <= 2; n++ {
		if _, err := store.PutTicket(ctx, id, n, []byte("%PDF-1.4 a ticket"), 0); err != nil {
			t.Fatal(err)
		}
		if _, err := store.MarkChildDone(ctx, id, n); err != nil {
			t.Fatal(err)
		}
	}
	if err := store.MarkBatchStalled(ctx, id, 2, "generate ticket: enqueue the dispatch: throttled"); err != nil {
		t.Fatal(err)
	}

	status := batchStatus(t, env, id)
	for _, want := range []string{
		"complete   20", "dispatched no\n",
		": the dispatch could not be enqueued on the last receive of ticket 2: generate ticket: enqueue the dispatch: throttled\n",
		"action     The tickets were not emailed and no retry is coming. Fix the cause, then run `busywork batch repair " + id + "`",
		"or replay the order's dead letters: `busywork dlq replay --lane bulk --type generate_ticket`",
	} {
		if !strings.Contains(status, want) {
			t.Errorf("batch status lacks %q:\n%s", want, status)
		}
	}
	var st ddb.OrderStatus
	if err := json.Unmarshal([]byte(batchStatus(t, env, "--json", id)), &st); err != nil || st.Stalled == nil ||
		!slices.Equal(st.Stalled.Tickets, []int{2}) || !strings.Contains(st.Action, "busywork batch repair "+id) {
		t.Fatalf("batch status --json: %+v (%v), want the stall and the action", st, err)
	}

	// Two operators repair it before a worker runs: two dispatch jobs.
	since := time.Now()
	for range 2 {
		r := runBusywork(t, env, "batch", "repair", id)
		if r.code != 0 || !strings.Contains(r.stdout, "order "+id+": every ticket is made; enqueued its dispatch (job "+id+"-follow-up, lane default)") {
			t.Fatalf("batch repair: exit %d, stdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
		}
	}
	startWorker(t, env)
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(batchStatus(t, env, id), "dispatched 20") {
		if time.Now().After(deadline) {
			t.Fatalf("not dispatched within a minute:\n%s", batchStatus(t, env, id))
		}
		time.Sleep(200 * time.Millisecond) // polling the order, as a person would
	}
	time.Sleep(3 * time.Second) // a second email would arrive within this
	var mails int
	for _, m := range testenv.Mails(t, since) {
		if slices.Contains(m.Destination.To, to) {
			mails++
		}
	}
	if mails != 1 {
		t.Fatalf("%d emails to %s after two repairs, want 1", mails, to)
	}
	if status := batchStatus(t, env, id); strings.Contains(status, "\nstalled ") || strings.Contains(status, "\naction ") {
		t.Errorf("after the dispatch, batch status still says:\n%s", status)
	}
	if r := runBusywork(t, env, "batch", "repair", id); r.code != 0 || !strings.Contains(r.stdout, "its tickets were emailed already; nothing to do") {
		t.Errorf("batch repair of a dispatched order: exit %d, stdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
}

func TestBatchRepair_AnUnknownOrderExitsOneAndABadIDTwo(t *testing.T) {
	_, _, env := newOrder(t, 1, time.Time{})
	env = append(env, workerEnv(newLanes(t, testenv.QueueOptions{}))...)
	id := strings.ToLower(testenv.UniqueName(t, "missing-", 100))
	if r := runBusywork(t, env, "batch", "repair", id); r.code != 1 || !strings.Contains(r.stderr, "busywork batch: no order "+id+" in table ") {
		t.Errorf("repair of an unknown order: exit %d, stderr:\n%s", r.code, r.stderr)
	}
	if r := runBusywork(t, env, "batch", "repair", "no/such"); r.code != 2 {
		t.Errorf("repair of an impossible id: exit %d, stderr:\n%s", r.code, r.stderr)
	}
	if r := runBusywork(t, env, "batch", "mend", id); r.code != 2 || !strings.Contains(r.stderr, `unknown subcommand "mend" (known: status, repair)`) {
		t.Errorf("batch mend: exit %d, stderr:\n%s", r.code, r.stderr)
	}
}
