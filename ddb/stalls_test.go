package ddb_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/busywork/busywork/ddb"
)

func TestBatch_AStallIsRecordedOnlyOnACompleteUndispatchedBatchAndClearedByTheDispatch(t *testing.T) {
	store, clk, _, _ := newStore(t)
	ctx := testCtx(t)
	if _, err := store.CreateBatch(ctx, "b", 3, nil, 0); err != nil {
		t.Fatal(err)
	}
	markAll(ctx, t, store, "b", 1, 2, 1)
	if err := store.MarkBatchStalled(ctx, "b", 2, "enqueue the dispatch: timeout"); !errors.Is(err, ddb.ErrIncomplete) {
		t.Fatalf("MarkBatchStalled on an incomplete batch: %v, want ErrIncomplete", err)
	}
	if err := store.MarkBatchStalled(ctx, "nope", 1, "x"); !errors.Is(err, ddb.ErrNotFound) {
		t.Fatalf("MarkBatchStalled on an unknown batch: %v, want ErrNotFound", err)
	}
	markAll(ctx, t, store, "b", 3, 3, 1)
	if b := getBatch(ctx, t, store, "b"); b.Stall != nil {
		t.Fatalf("a complete batch with nothing recorded has stall %+v", b.Stall)
	}

	// Ticket 3 and then ticket 1 could not enqueue the follow-up on their
	// last receive; then the follow-up job itself failed for good.
	for _, rec := range []struct {
		n      int
		reason string
	}{{3, "enqueue the dispatch: SQS said no"}, {1, "enqueue the dispatch: " + strings.Repeat("x", 1000)}, {ddb.FollowUp, "SES: sending paused"}} {
		clk.Add(time.Second)
		if err := store.MarkBatchStalled(ctx, "b", rec.n, rec.reason); err != nil {
			t.Fatalf("MarkBatchStalled(%d): %v", rec.n, err)
		}
	}
	st := getBatch(ctx, t, store, "b").Stall
	if st == nil || !slices.Equal(st.Children, []int{1, 3}) || !st.FollowUp || st.Reason != "SES: sending paused" || st.At.Unix() != clk.Now().Unix() {
		t.Fatalf("stall %+v, want children 1 and 3, the follow-up failed, the last reason and time", st)
	}
	if err := store.MarkBatchStalled(ctx, "b", 1, strings.Repeat("y", 5000)); err != nil {
		t.Fatal(err)
	}
	if st := getBatch(ctx, t, store, "b").Stall; len(st.Reason) > 256 {
		t.Errorf("a stall reason of 5000 bytes is kept whole (%d bytes), want it cut", len(st.Reason))
	}

	if err := store.MarkBatchDispatched(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	if b := getBatch(ctx, t, store, "b"); b.Stall != nil || !b.Dispatched() {
		t.Fatalf("after the dispatch: stall %+v, dispatched %v; want no stall", b.Stall, b.Dispatched())
	}
	// A late record of a dispatched batch changes nothing.
	if err := store.MarkBatchStalled(ctx, "b", 2, "late"); err != nil {
		t.Fatalf("MarkBatchStalled after the dispatch: %v, want nil", err)
	}
	if b := getBatch(ctx, t, store, "b"); b.Stall != nil {
		t.Fatalf("a dispatched batch shows stall %+v", b.Stall)
	}
}

func TestOrderStatus_ShowsFailuresAStallAndTheDispatch(t *testing.T) {
	store, clk, _, _ := newStore(t)
	ctx := testCtx(t)
	if _, err := store.PutOrder(ctx, ddb.Order{ID: "o", Email: "ada@example.com", Event: "Gala", Tickets: 2}, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := store.CreateBatch(ctx, "o", 2, nil, 0); err != nil {
		t.Fatal(err)
	}
	status := func() ddb.OrderStatus {
		t.Helper()
		st, err := store.OrderStatus(ctx, "o")
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	if err := store.MarkChildFailed(ctx, "o", 2, "render: broken template"); err != nil {
		t.Fatal(err)
	}
	if st := status(); !slices.Equal(st.Failed, []int{2}) || st.Errors[2] != "render: broken template" || st.Complete || st.Action != "" {
		t.Errorf("with a failed ticket: %+v, want ticket 2 failed with its reason, and no action (the reader words it)", st)
	}

	markAll(ctx, t, store, "o", 1, 2, 1)
	if st := status(); !st.Complete || st.CompletedAt == nil || st.Dispatched || st.Stalled != nil {
		t.Errorf("complete a moment ago: %+v, want complete, not dispatched, no stall (the dispatch is on its way)", st)
	}
	if err := store.MarkBatchStalled(ctx, "o", 2, "enqueue the dispatch: throttled"); err != nil {
		t.Fatal(err)
	}
	st := status()
	if st.Stalled == nil || !slices.Equal(st.Stalled.Tickets, []int{2}) || st.Stalled.DispatchFailed || st.Stalled.Reason != "enqueue the dispatch: throttled" {
		t.Errorf("stalled by ticket 2: %+v, want ticket 2 and its reason", st)
	}
	if err := store.MarkBatchStalled(ctx, "o", ddb.FollowUp, "SES: paused"); err != nil {
		t.Fatal(err)
	}
	if st := status(); !st.Stalled.DispatchFailed {
		t.Errorf("the dispatch failed: %+v, want the stall to say so", st)
	}

	// Complete long ago with nothing recorded: a worker died on a last
	// receive.
	if _, err := store.PutOrder(ctx, ddb.Order{ID: "quiet", Email: "ada@example.com", Event: "Gala", Tickets: 1}, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := store.CreateBatch(ctx, "quiet", 1, nil, 0); err != nil {
		t.Fatal(err)
	}
	markAll(ctx, t, store, "quiet", 1, 1, 1)
	completed := clk.Now()
	clk.Add(16 * time.Minute)
	quiet, err := store.OrderStatus(ctx, "quiet")
	if err != nil {
		t.Fatal(err)
	}
	if quiet.Stalled != nil || !quiet.Complete || quiet.Dispatched || quiet.CompletedAt == nil || quiet.CompletedAt.Unix() != completed.Unix() {
		t.Errorf("complete 16 minutes ago: %+v, want complete at %v, neither dispatched nor stalled", quiet, completed)
	}

	if err := store.MarkBatchDispatched(ctx, "o"); err != nil {
		t.Fatal(err)
	}
	if st := status(); !st.Dispatched || st.DispatchedAt == nil || st.Stalled != nil {
		t.Errorf("dispatched: %+v, want dispatched and no stall", st)
	}
}
