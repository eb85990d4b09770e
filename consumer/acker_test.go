package consumer

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The batching rules, on a scripted sendBatch (pure logic; the emulator
// tests check the same calls against SQS).

func testBatcher(send sendBatch, parallel, limit int) *batcher {
	b := newBatcher(context.Background(), "DeleteMessageBatch", send, time.Minute,
		slog.New(slog.NewTextHandler(io.Discard, nil)))
	b.window = func() (int, int) { return parallel, limit }
	return b
}

// gate is a sendBatch whose calls block until released, recording the
// size of each.
type gate struct {
	mu      sync.Mutex
	sizes   []int
	started chan int      // receives each call's size as it starts
	release chan struct{} // one value lets one call return
}

func newGate() *gate {
	return &gate{started: make(chan int, 100), release: make(chan struct{}, 100)}
}

func (g *gate) send(_ context.Context, acks []ack) ([]entryError, error) {
	g.mu.Lock()
	g.sizes = append(g.sizes, len(acks))
	g.mu.Unlock()
	g.started <- len(acks)
	<-g.release
	return nil, nil
}

func (g *gate) callSizes() []int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.sizes)
}

func TestBatcher_RetriesOnlyFailedEntriesAndReportsTheRest(t *testing.T) {
	var (
		mu    sync.Mutex
		calls [][]string // handles per call
	)
	send := func(_ context.Context, acks []ack) ([]entryError, error) {
		mu.Lock()
		defer mu.Unlock()
		var handles []string
		var failed []entryError
		for i, a := range acks {
			handles = append(handles, a.handle)
			switch a.handle {
			case "flaky": // fails on its first try only
				if len(calls) == 0 {
					failed = append(failed, entryError{index: i, code: "InternalError"})
				}
			case "broken": // a server fault every time
				failed = append(failed, entryError{index: i, code: "InternalError"})
			case "stale": // the sender's fault: never retried
				failed = append(failed, entryError{index: i, code: "ReceiptHandleIsInvalid", senderFault: true})
			}
		}
		calls = append(calls, handles)
		return failed, nil
	}
	b := testBatcher(send, 1, 0)
	results := make(map[string]error)
	var wg sync.WaitGroup
	// Queued while closing, so that the four go out in one call.
	b.mu.Lock()
	for _, h := range []string{"ok", "flaky", "broken", "stale"} {
		wg.Add(1)
		b.queued = append(b.queued, ack{handle: h, done: func(err error) { mu.Lock(); results[h] = err; mu.Unlock(); wg.Done() }})
		b.unconfirmed++
	}
	b.mu.Unlock()
	if err := b.close(t.Context()); err != nil {
		t.Fatal(err)
	}
	wg.Wait()

	if results["ok"] != nil || results["flaky"] != nil {
		t.Errorf("ok: %v, flaky: %v; want both confirmed", results["ok"], results["flaky"])
	}
	if results["broken"] == nil || results["stale"] == nil {
		t.Errorf("broken: %v, stale: %v; want both reported failed", results["broken"], results["stale"])
	}
	want := [][]string{{"ok", "flaky", "broken", "stale"}, {"flaky", "broken"}, {"broken"}}
	if !slices.EqualFunc(calls, want, slices.Equal) {
		t.Fatalf("calls = %v, want %v", calls, want)
	}
}

func TestBatcher_WholeCallErrorRetriesEveryEntry(t *testing.T) {
	var n int
	send := func(_ context.Context, acks []ack) ([]entryError, error) {
		n++
		if n == 1 {
			return nil, errors.New("connection reset")
		}
		return nil, nil
	}
	b := testBatcher(send, 1, 0)
	errs := make(chan error, 1)
	b.add(ack{handle: "h", done: func(err error) { errs <- err }})
	if err := b.close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := <-errs; err != nil {
		t.Fatalf("entry failed after a retried call error: %v", err)
	}
	if n != 2 {
		t.Fatalf("%d calls, want the failed one and its retry", n)
	}
}

// An idle batcher sends a lone entry at once: no flush, no timer.
func TestBatcher_SendsALoneEntryAtOnce(t *testing.T) {
	g := newGate()
	b := testBatcher(g.send, 2, 10)
	b.add(ack{handle: "h", done: func(error) {}})
	if size := <-g.started; size != 1 {
		t.Fatalf("first call carried %d entries, want 1", size)
	}
	g.release <- struct{}{}
	if err := b.close(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// While calls are in flight, entries gather: full batches use the free
// call slots, and a partial one waits until no call is in flight.
func TestBatcher_GathersFullBatchesWhileCallsAreInFlight(t *testing.T) {
	g := newGate()
	b := testBatcher(g.send, 2, 0)
	for range 25 {
		b.add(ack{handle: "h", done: func(error) {}})
	}
	// In flight: [1] at once, then [10] in the second slot; 14 queued.
	if a, c := <-g.started, <-g.started; min(a, c) != 1 || max(a, c) != 10 {
		t.Fatalf("first calls carried %d and %d entries, want 1 and 10", a, c)
	}
	g.release <- struct{}{}
	if size := <-g.started; size != 10 { // a full batch takes the free slot; 4 wait
		t.Fatalf("third call carried %d entries, want 10", size)
	}
	g.release <- struct{}{}
	g.release <- struct{}{}
	if size := <-g.started; size != 4 { // no call in flight: the rest
		t.Fatalf("last call carried %d entries, want 4", size)
	}
	g.release <- struct{}{}
	if err := b.close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := g.callSizes(); len(got) != 4 || got[0]+got[1] != 11 || got[2] != 10 || got[3] != 4 {
		t.Fatalf("call sizes %v", got)
	}
}

// With the limit reached, add waits; entries that a confirmation lets in
// fill the next batch instead of going out one by one.
func TestBatcher_LimitHoldsUnconfirmedEntriesAndStillFillsBatches(t *testing.T) {
	g := newGate()
	b := testBatcher(g.send, 2, 10)
	var added sync.WaitGroup
	for range 30 {
		added.Go(func() { b.add(ack{handle: "h", done: func(error) {}}) })
	}
	if size := <-g.started; size != 1 {
		t.Fatalf("first call carried %d entries, want 1", size)
	}
	// Nine more join the queue; the other twenty wait for room.
	waitFor(t, func() bool { b.mu.Lock(); defer b.mu.Unlock(); return b.waiting == 20 && b.unconfirmed == 10 })
	for _, want := range []int{10, 10, 9} {
		g.release <- struct{}{}
		if size := <-g.started; size != want {
			t.Fatalf("calls so far %v, want the next to carry %d", g.callSizes(), want)
		}
		if b.pending() > 10 {
			t.Fatalf("%d entries unconfirmed, more than the limit 10", b.pending())
		}
	}
	g.release <- struct{}{}
	added.Wait()
	if err := b.close(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// A partial batch waits, up to the linger, while handlers are still
// running, and goes out at once when none is.
func TestBatcher_APartialBatchLingersOnlyWhileHandlersRun(t *testing.T) {
	g := newGate()
	b := testBatcher(g.send, 2, 10)
	var running atomic.Bool
	running.Store(true)
	b.busy, b.linger = running.Load, time.Hour
	for range 3 {
		b.add(ack{handle: "h", done: func(error) {}})
	}
	select {
	case size := <-g.started:
		t.Fatalf("a call of %d entries went out while handlers ran and the linger lasted", size)
	case <-time.After(50 * time.Millisecond):
	}
	running.Store(false)
	b.add(ack{handle: "h", done: func(error) {}}) // no handler left: send now
	if size := <-g.started; size != 4 {
		t.Fatalf("call carried %d entries, want the 4 gathered", size)
	}
	g.release <- struct{}{}

	running.Store(true)
	b.linger = 10 * time.Millisecond
	b.add(ack{handle: "h", done: func(error) {}})
	if size := <-g.started; size != 1 { // the linger ends it
		t.Fatalf("call carried %d entries, want 1", size)
	}
	g.release <- struct{}{}
	if err := b.close(t.Context()); err != nil {
		t.Fatal(err)
	}
}

// An add after close still goes out: closing cannot race a sender.
func TestBatcher_AddAfterCloseIsSent(t *testing.T) {
	g := newGate()
	b := testBatcher(g.send, 1, 1)
	if err := b.close(t.Context()); err != nil {
		t.Fatal(err)
	}
	confirmed := make(chan error, 1)
	b.add(ack{handle: "late", done: func(err error) { confirmed <- err }})
	<-g.started
	g.release <- struct{}{}
	if err := <-confirmed; err != nil {
		t.Fatal(err)
	}
}

// waitFor waits until cond holds, failing the test after 10 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached within 10 s")
		}
		time.Sleep(time.Millisecond)
	}
}
