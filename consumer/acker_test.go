package consumer

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
)

// TestBatcher_RetriesOnlyFailedEntriesAndReportsTheRest checks the batching
// rules on a scripted sendBatch (pure logic; the emulator test in
// consumer_integration_test.go checks the same against SQS).
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
	b := newBatcher("DeleteMessageBatch", send, 1, slog.New(slog.NewTextHandler(io.Discard, nil)))
	results := make(map[string]error)
	var wg sync.WaitGroup
	for _, h := range []string{"ok", "flaky", "broken", "stale"} {
		wg.Add(1)
		b.add(ack{handle: h, done: func(err error) { mu.Lock(); results[h] = err; mu.Unlock(); wg.Done() }})
	}
	go b.run()
	wg.Wait()
	b.close()

	if results["ok"] != nil || results["flaky"] != nil {
		t.Errorf("ok: %v, flaky: %v; want both confirmed", results["ok"], results["flaky"])
	}
	if results["broken"] == nil || results["stale"] == nil {
		t.Errorf("broken: %v, stale: %v; want both reported failed", results["broken"], results["stale"])
	}
	want := [][]string{{"ok", "flaky", "broken", "stale"}, {"flaky", "broken"}, {"broken"}}
	if len(calls) != len(want) {
		t.Fatalf("calls = %v, want %v", calls, want)
	}
	for i := range want {
		if len(calls[i]) != len(want[i]) {
			t.Fatalf("call %d = %v, want %v", i, calls[i], want[i])
		}
		for j := range want[i] {
			if calls[i][j] != want[i][j] {
				t.Fatalf("call %d = %v, want %v", i, calls[i], want[i])
			}
		}
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
	b := newBatcher("DeleteMessageBatch", send, 1, slog.New(slog.NewTextHandler(io.Discard, nil)))
	go b.run()
	errs := make(chan error, 12)
	for range 12 {
		b.add(ack{handle: "h", done: func(err error) { errs <- err }})
	}
	b.close()
	for range 12 {
		if err := <-errs; err != nil {
			t.Fatalf("entry failed after a retried call error: %v", err)
		}
	}
	if n != 3 { // a full batch of 10 failing once and retried, plus the 2 left
		t.Fatalf("%d calls, want 3", n)
	}
}
