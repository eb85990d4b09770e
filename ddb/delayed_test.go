package ddb_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/busywork/busywork/ddb"
)

func TestDelayed_CancelUnknownJobIsNotFound(t *testing.T) {
	store, _, _, _ := newStore(t)
	ctx := testCtx(t)
	if _, err := store.CancelDelayedJob(ctx, "never-sent"); !errors.Is(err, ddb.ErrNotFound) {
		t.Fatalf("cancel of an unknown id = %v, want ErrNotFound", err)
	}
	if _, err := store.StartDelayedJob(ctx, "never-sent"); !errors.Is(err, ddb.ErrNotFound) {
		t.Fatalf("start of an unknown id = %v, want ErrNotFound", err)
	}
}

func TestDelayed_CancelledJobNeverStartsAndIsNotRecordedAgain(t *testing.T) {
	store, clk, _, _ := newStore(t)
	ctx := testCtx(t)
	due := clk.Now().Add(2 * time.Hour)
	if err := store.PutDelayedJob(ctx, "j1", "ping", due); err != nil {
		t.Fatal(err)
	}
	j, err := store.CancelDelayedJob(ctx, "j1")
	if err != nil || j.Status != ddb.DelayCancelled || j.Type != "ping" || j.DueAt.Sub(due) < 0 || j.DueAt.Sub(due) >= time.Second || j.CancelledAt.IsZero() {
		t.Fatalf("cancel = %+v, %v; want the ping job cancelled, due %s", j, err, due)
	}
	if again, err := store.CancelDelayedJob(ctx, "j1"); err != nil || again.Status != ddb.DelayCancelled {
		t.Fatalf("second cancel = %+v, %v; want it cancelled, no error", again, err)
	}
	if _, err := store.StartDelayedJob(ctx, "j1"); !errors.Is(err, ddb.ErrJobCancelled) {
		t.Fatalf("start of a cancelled job = %v, want ErrJobCancelled", err)
	}
	if err := store.PutDelayedJob(ctx, "j1", "ping", due); !errors.Is(err, ddb.ErrJobCancelled) {
		t.Fatalf("recording a cancelled job again = %v, want ErrJobCancelled", err)
	}
}

func TestDelayed_StartedJobCannotBeCancelledAndKeepsItsFirstStart(t *testing.T) {
	store, clk, _, _ := newStore(t)
	ctx := testCtx(t)
	if err := store.PutDelayedJob(ctx, "j2", "ping", clk.Now()); err != nil {
		t.Fatal(err)
	}
	first, err := store.StartDelayedJob(ctx, "j2")
	if err != nil || first.Status != ddb.DelayStarted || first.StartedAt.IsZero() {
		t.Fatalf("start = %+v, %v", first, err)
	}
	clk.Add(time.Minute)
	second, err := store.StartDelayedJob(ctx, "j2") // a retry, or a second copy
	if err != nil || !second.StartedAt.Equal(first.StartedAt) {
		t.Fatalf("second start = %+v, %v; want the first start time %s kept", second, err, first.StartedAt)
	}
	if _, err := store.CancelDelayedJob(ctx, "j2"); !errors.Is(err, ddb.ErrJobStarted) {
		t.Fatalf("cancel of a started job = %v, want ErrJobStarted", err)
	}
	// A send of the same id (a retried send) leaves it started.
	if err := store.PutDelayedJob(ctx, "j2", "ping", clk.Now().Add(time.Hour)); err != nil {
		t.Fatalf("recording a started job again = %v, want nil", err)
	}
	if _, err := store.CancelDelayedJob(ctx, "j2"); !errors.Is(err, ddb.ErrJobStarted) {
		t.Fatalf("cancel after a resend = %v, want ErrJobStarted", err)
	}
}

func TestDelayed_ExpiredRecordIsUnknown(t *testing.T) {
	store, clk, _, _ := newStore(t)
	ctx := testCtx(t)
	if err := store.PutDelayedJob(ctx, "j3", "ping", clk.Now()); err != nil {
		t.Fatal(err)
	}
	clk.Add(ddb.DefaultJobRetention + time.Hour) // DynamoDB Local never deletes it
	if _, err := store.CancelDelayedJob(ctx, "j3"); !errors.Is(err, ddb.ErrNotFound) {
		t.Fatalf("cancel of an expired record = %v, want ErrNotFound", err)
	}
	if err := store.PutDelayedJob(ctx, "j3", "ping", clk.Now()); err != nil {
		t.Fatalf("recording over an expired record = %v", err)
	}
}

func TestDelayed_RacingCancelAndStartHaveOneWinner(t *testing.T) {
	store, clk, _, _ := newStore(t)
	ctx := testCtx(t)
	for round := range 20 {
		id := "race-" + string(rune('a'+round))
		if err := store.PutDelayedJob(ctx, id, "ping", clk.Now()); err != nil {
			t.Fatal(err)
		}
		var (
			wg                  sync.WaitGroup
			cancelErr, startErr error
		)
		wg.Go(func() { _, cancelErr = store.CancelDelayedJob(ctx, id) })
		wg.Go(func() { _, startErr = store.StartDelayedJob(ctx, id) })
		wg.Wait()
		cancelled := cancelErr == nil && errors.Is(startErr, ddb.ErrJobCancelled)
		started := startErr == nil && errors.Is(cancelErr, ddb.ErrJobStarted)
		if cancelled == started {
			t.Fatalf("%s: cancel = %v, start = %v; want exactly one to win", id, cancelErr, startErr)
		}
	}
}
