package consumer_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/busywork/busywork/consumer"
	"github.com/busywork/busywork/internal/testenv"
	"github.com/busywork/busywork/jobs"
)

// runs records the Delivery of every run of a handler.
type runs struct {
	mu   sync.Mutex
	seen []consumer.Delivery
	at   []time.Time
}

// add records the run whose handler got ctx, and returns its Delivery
// and how many runs came before it.
func (r *runs) add(ctx context.Context) (consumer.Delivery, int) {
	d, _ := consumer.DeliveryFromContext(ctx)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen = append(r.seen, d)
	r.at = append(r.at, time.Now())
	return d, len(r.seen) - 1
}

func (r *runs) list() ([]consumer.Delivery, []time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]consumer.Delivery(nil), r.seen...), append([]time.Time(nil), r.at...)
}

// await waits until n runs were recorded.
func (r *runs) await(t *testing.T, n int, d time.Duration) []consumer.Delivery {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if seen, _ := r.list(); len(seen) >= n {
			return seen
		}
		time.Sleep(20 * time.Millisecond)
	}
	seen, _ := r.list()
	t.Fatalf("after %s: %d runs, want %d", d, len(seen), n)
	return nil
}

// A handler that snoozes ten times, five times within the hold limit
// (waited out in the worker) and five times past it (sent on as fresh
// copies), then succeeds: eleven runs of one job, each its first attempt,
// and nothing dead-lettered on a queue whose maxReceiveCount is 2.
func TestSnooze_TenTimesThenSucceeds(t *testing.T) {
	testenv.Require(t)
	var rec calls
	client := testenv.SQS(t, rec.record)
	url, dlq := testenv.NewQueue(t, client, testenv.QueueOptions{MaxReceiveCount: 2})
	var r runs
	mux := consumer.NewMux()
	consumer.Handle(mux, func(ctx context.Context, j jobs.Ping) error {
		_, n := r.add(ctx)
		switch {
		case n < 5:
			return consumer.Snooze(100 * time.Millisecond)
		case n < 10:
			return consumer.Snooze(1500 * time.Millisecond)
		}
		return nil
	})
	ids := enqueue(t, client, url, jobs.Ping{Message: "snoozy"})
	start(t, client, mux, consumer.Config{HoldLimit: time.Second, Queues: []consumer.QueueConfig{{URL: url, Concurrency: 2}}})
	seen := r.await(t, 11, time.Minute)
	for i, d := range seen {
		if d.ID != ids[0] || d.Attempt != 1 {
			t.Errorf("run %d: job id %q attempt %d, want %q and 1", i+1, d.ID, d.Attempt, ids[0])
		}
	}
	receiveNone(t, client, url, 3*time.Second)
	receiveNone(t, client, dlq, time.Second)
	if seen, _ := r.list(); len(seen) != 11 {
		t.Errorf("%d runs, want 11", len(seen))
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	// Five long snoozes, five fresh copies; the short ones cost nothing.
	if n := len(rec.inputs["SendMessage"]); n != 5 {
		t.Errorf("%d SendMessage calls (fresh copies), want 5", n)
	}
	for _, in := range rec.inputs["SendMessage"] {
		if got := in.(*sqs.SendMessageInput).DelaySeconds; got != 2 {
			t.Errorf("copy delayed %d s, want 2 (1.5 s rounded up)", got)
		}
	}
}

// failing is a handler that always fails, recording its runs.
func failing(r *runs) func(ctx context.Context, j jobs.Ping) error {
	return func(ctx context.Context, j jobs.Ping) error {
		d, _ := r.add(ctx)
		return fmt.Errorf("boom %d", d.Attempt)
	}
}

// A type with 3 attempts on a queue that allows 10 receives is
// dead-lettered after exactly 3 failures, with its last error.
func TestRetry_AttemptsBelowTheQueuesCount(t *testing.T) {
	testenv.Require(t)
	client := testenv.SQS(t)
	url, dlq := testenv.NewQueue(t, client, testenv.QueueOptions{MaxReceiveCount: 10})
	var r runs
	mux := consumer.NewMux()
	consumer.Handle(mux, failing(&r), consumer.Retry(consumer.RetryPolicy{Attempts: 3, Base: time.Second, Max: time.Second}))
	enqueue(t, client, url, jobs.Ping{Message: "doomed"})
	start(t, client, mux, consumer.Config{Queues: []consumer.QueueConfig{{URL: url, Concurrency: 2}}})

	dead := testenv.ReceiveAll(t.Context(), t, client, dlq, 1, 30*time.Second)
	seen, _ := r.list()
	if len(seen) != 3 {
		t.Fatalf("%d runs before the DLQ, want 3", len(seen))
	}
	for i, d := range seen {
		if d.Attempt != i+1 || d.Attempts != 3 || d.LastTry() != (i == 2) {
			t.Errorf("run %d: attempt %d of %d, last %v", i+1, d.Attempt, d.Attempts, d.LastTry())
		}
	}
	reason := testenv.Attr(dead[0], jobs.AttrError)
	if !strings.Contains(reason, "attempts exhausted") || !strings.Contains(reason, "boom 3") {
		t.Errorf("dead letter's error %q, want attempts exhausted and the last error", reason)
	}
	receiveNone(t, client, url, 3*time.Second)
}

// A type with 8 attempts on a queue whose redrive policy moves a message
// after 5 receives gets all 8: it goes on as a fresh copy before the
// queue's last receive, and is dead-lettered by busywork after the 8th.
func TestRetry_AttemptsBeyondTheQueuesCount(t *testing.T) {
	testenv.Require(t)
	var rec calls
	client := testenv.SQS(t, rec.record)
	url, dlq := testenv.NewQueue(t, client, testenv.QueueOptions{MaxReceiveCount: 5})
	var r runs
	mux := consumer.NewMux()
	consumer.Handle(mux, failing(&r), consumer.Retry(consumer.RetryPolicy{Attempts: 8, Base: time.Second, Max: time.Second}))
	ids := enqueue(t, client, url, jobs.Ping{Message: "stubborn"})
	start(t, client, mux, consumer.Config{Queues: []consumer.QueueConfig{{URL: url, Concurrency: 2}}})

	dead := testenv.ReceiveAll(t.Context(), t, client, dlq, 1, time.Minute)
	seen, _ := r.list()
	if len(seen) != 8 {
		t.Fatalf("%d runs before the DLQ, want 8", len(seen))
	}
	for i, d := range seen {
		if d.ID != ids[0] || d.Attempt != i+1 {
			t.Errorf("run %d: job %q attempt %d", i+1, d.ID, d.Attempt)
		}
	}
	if got := seen[5].ReceiveCount; got != 1 {
		t.Errorf("6th attempt on receive %d, want 1 (a fresh copy)", got)
	}
	if reason := testenv.Attr(dead[0], jobs.AttrError); !strings.Contains(reason, "attempts exhausted (8 of 8)") {
		t.Errorf("dead letter's error %q", reason)
	}
	if got := testenv.Attr(dead[0], jobs.AttrJobID); got != ids[0] {
		t.Errorf("dead letter's job id %q, want %q", got, ids[0])
	}
	receiveNone(t, client, url, 3*time.Second)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if n := len(rec.inputs["SendMessage"]); n != 2 { // the copy, the dead letter
		t.Errorf("%d SendMessage calls, want 2 (one fresh copy, one dead letter)", n)
	}
}

// A message due in 5 s, on a consumer whose hops are 2 s and which holds
// waits of up to 1 s, hops twice and runs once, not before its due time,
// as its first attempt.
func TestDueAt_HopsUntilDue(t *testing.T) {
	testenv.Require(t)
	var rec calls
	client := testenv.SQS(t, rec.record)
	url, dlq := testenv.NewQueue(t, client, testenv.QueueOptions{MaxReceiveCount: 2})
	var r runs
	mux := consumer.NewMux()
	consumer.Handle(mux, func(ctx context.Context, j jobs.Ping) error { r.add(ctx); return nil })
	due := time.Now().Add(5 * time.Second).UTC()
	_, err := client.SendMessage(t.Context(), &sqs.SendMessageInput{
		QueueUrl:    aws.String(url),
		MessageBody: aws.String(`{"type":"ping","message":"later"}`),
		MessageAttributes: map[string]types.MessageAttributeValue{
			jobs.AttrJobID: {DataType: aws.String("String"), StringValue: aws.String("later-1")},
			jobs.AttrDueAt: {DataType: aws.String("String"), StringValue: aws.String(due.Format(time.RFC3339Nano))},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	start(t, client, mux, consumer.Config{HoldLimit: time.Second, MaxHop: 2 * time.Second,
		Queues: []consumer.QueueConfig{{URL: url, Concurrency: 2}}})
	seen := r.await(t, 1, 30*time.Second)
	_, at := r.list()
	if at[0].Before(due) {
		t.Errorf("ran at %s, before its due time %s", at[0].Format(time.RFC3339Nano), due.Format(time.RFC3339Nano))
	}
	if d := seen[0]; d.ID != "later-1" || d.Attempt != 1 || !d.DueAt.Equal(due) {
		t.Errorf("delivery %+v, want job later-1, attempt 1, due %s", d, due)
	}
	receiveNone(t, client, url, 3*time.Second)
	receiveNone(t, client, dlq, time.Second)
	if seen, _ := r.list(); len(seen) != 1 {
		t.Errorf("%d runs, want 1", len(seen))
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	hops := rec.inputs["SendMessage"]
	if len(hops) < 2 || len(hops) > 3 {
		t.Errorf("%d hops, want 2 or 3 (5 s in hops of 2 s, then a hold of at most 1 s)", len(hops))
	}
	for _, in := range hops {
		send := in.(*sqs.SendMessageInput)
		if send.DelaySeconds > 2 {
			t.Errorf("hop of %d s, longer than the 2 s MaxHop", send.DelaySeconds)
		}
		if got := aws.ToString(send.MessageAttributes[jobs.AttrDueAt].StringValue); got != due.Format(time.RFC3339Nano) {
			t.Errorf("hop carries due_at %q, want %q", got, due.Format(time.RFC3339Nano))
		}
	}
}

// A bad retry policy panics in Handle, naming the type.
func TestRetry_BadPolicyPanics(t *testing.T) {
	for _, p := range []consumer.RetryPolicy{
		{Attempts: -1}, {Base: -time.Second}, {Base: time.Minute, Max: time.Second},
		{Max: 13 * time.Hour}, {Jitter: 1.5},
	} {
		func() {
			defer func() {
				msg, _ := recover().(string)
				if !strings.Contains(msg, `"ping"`) || !strings.Contains(msg, "retry policy") {
					t.Errorf("policy %+v: panic %q, want one naming the type and the retry policy", p, msg)
				}
			}()
			consumer.Handle(consumer.NewMux(), func(context.Context, jobs.Ping) error { return nil }, consumer.Retry(p))
		}()
	}
}
