package consumer_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/busywork/busywork/consumer"
	"github.com/busywork/busywork/internal/testenv"
	"github.com/busywork/busywork/jobs"
)

func TestConsumer_HandlesEachJobOnceAndDeletesIt(t *testing.T) {
	testenv.Require(t)
	client := testenv.SQS(t)
	url, _ := testenv.NewQueue(t, client, testenv.QueueOptions{VisibilityTimeout: 2})
	handled := newTally()
	ids := newTally()
	mux := consumer.NewMux()
	consumer.Handle(mux, func(ctx context.Context, j jobs.Ping) error {
		d, _ := consumer.DeliveryFromContext(ctx)
		ids.add(d.ID)
		handled.add(j.Message)
		return nil
	})
	sent := enqueue(t, client, url, pings(25)...)
	r := start(t, client, mux, consumer.Config{Queues: []consumer.QueueConfig{{URL: url, Concurrency: 5}}})

	handled.await(t, 10*time.Second, "25 jobs handled", func(n map[string]int) bool { return len(n) == 25 })
	// Deleted, not just hidden: nothing comes back after the 2 s lease.
	time.Sleep(3 * time.Second)
	r.stop(t)
	for msg, n := range handled.snapshot() {
		if n != 1 {
			t.Errorf("job %s handled %d times", msg, n)
		}
	}
	for _, id := range sent {
		if ids.snapshot()[id] != 1 {
			t.Errorf("job id %s seen %d times by handlers", id, ids.snapshot()[id])
		}
	}
	receiveNone(t, client, url, time.Second)
}

func TestConsumer_HeartbeatKeepsALongJobFromBeingDeliveredTwice(t *testing.T) {
	testenv.Require(t)
	var rec calls
	client := testenv.SQS(t, rec.record)
	url, _ := testenv.NewQueue(t, client, testenv.QueueOptions{VisibilityTimeout: 2})
	var runs atomic.Int32
	handled := newTally()
	mux := consumer.NewMux()
	consumer.Handle(mux, func(ctx context.Context, j jobs.Ping) error {
		runs.Add(1)
		select {
		case <-time.After(6 * time.Second): // three times the queue's visibility timeout
		case <-ctx.Done():
			return ctx.Err()
		}
		handled.add(j.Message)
		return nil
	})
	enqueue(t, client, url, pings(3)...)
	start(t, client, mux, consumer.Config{Queues: []consumer.QueueConfig{{URL: url, Concurrency: 5}}})

	handled.await(t, 15*time.Second, "3 long jobs done", func(n map[string]int) bool { return len(n) == 3 })
	if got := runs.Load(); got != 3 {
		t.Fatalf("handlers ran %d times for 3 jobs: a message was delivered again while it ran", got)
	}
	if rec.count("ChangeMessageVisibilityBatch") == 0 {
		t.Fatal("no ChangeMessageVisibilityBatch call: nothing extended the 2 s visibility")
	}
}

func TestConsumer_RetriesWithGrowingDelaysThenRedrivesToTheDLQ(t *testing.T) {
	testenv.Require(t)
	client := testenv.SQS(t)
	url, dlq := testenv.NewQueue(t, client, testenv.QueueOptions{VisibilityTimeout: 30, MaxReceiveCount: 3})
	tries := make(chan time.Time, 10)
	mux := consumer.NewMux()
	consumer.Handle(mux, func(ctx context.Context, j jobs.Ping) error {
		tries <- time.Now()
		return errBoom
	})
	enqueue(t, client, url, jobs.Ping{Message: "always fails"})
	start(t, client, mux, consumer.Config{
		Queues:      []consumer.QueueConfig{{URL: url}},
		BackoffBase: 2 * time.Second,
	})

	dead := testenv.ReceiveAll(t.Context(), t, client, dlq, 1, 30*time.Second)
	if got := aws.ToString(dead[0].Body); got != `{"type":"ping","message":"always fails"}` {
		t.Fatalf("dead letter body = %s", got)
	}
	close(tries)
	var at []time.Time
	for tm := range tries {
		at = append(at, tm)
	}
	if len(at) != 3 {
		t.Fatalf("handler ran %d times, want maxReceiveCount = 3", len(at))
	}
	first, second := at[1].Sub(at[0]), at[2].Sub(at[1])
	// Backoff(1) is 1-2 s and Backoff(2) 2-4 s, in whole seconds; the lease
	// (30 s) would have been far longer.
	if first < 900*time.Millisecond || first > 3*time.Second || second < 1900*time.Millisecond || second > 5*time.Second {
		t.Fatalf("retry delays %s then %s; want about 1-2 s then 2-4 s", first, second)
	}
	if second < first-500*time.Millisecond {
		t.Fatalf("retry delays shrank: %s then %s", first, second)
	}
}

func TestConsumer_DeadLettersPoisonMessagesWithAReasonAndKeepsWorking(t *testing.T) {
	testenv.Require(t)
	client := testenv.SQS(t)
	url, dlq := testenv.NewQueue(t, client, testenv.QueueOptions{VisibilityTimeout: 3})
	handled := newTally()
	mux := consumer.NewMux()
	consumer.Handle(mux, func(ctx context.Context, j jobs.Ping) error {
		handled.add(j.Message)
		return nil
	})
	consumer.Handle(mux, func(ctx context.Context, j jobs.MagicLink) error {
		return consumer.Permanent(errBoom)
	})
	poison := map[string]string{ // body -> what its error attribute must say
		`not json at all`:                               "malformed job",
		`{"type":"launch_rockets"}`:                     `no handler for job type "launch_rockets"`,
		`{"type":"ping","message":12}`:                  "decode ping job",
		`{"type":"magic_link","email":"nope"}`:          "invalid magic_link job: email",
		`{"type":"magic_link","email":"a@example.com"}`: "permanent: boom",
	}
	for body := range poison {
		sendRaw(t, client, url, body)
	}
	sendRaw(t, client, url, `{"type":"ping","message":"body only"}`)
	enqueue(t, client, url, pings(20)...)
	began := time.Now()
	start(t, client, mux, consumer.Config{Queues: []consumer.QueueConfig{{URL: url, Concurrency: 4}}})

	dead := testenv.ReceiveAll(t.Context(), t, client, dlq, len(poison), 10*time.Second)
	// Within seconds, allowing one receive lost in transit (a 3 s lease).
	if took := time.Since(began); took > 8*time.Second {
		t.Errorf("poison messages took %s to reach the DLQ", took)
	}
	for _, m := range dead {
		body := aws.ToString(m.Body)
		reason := aws.ToString(m.MessageAttributes[jobs.AttrError].StringValue)
		want, ok := poison[body]
		if !ok || !strings.Contains(reason, want) {
			t.Errorf("dead letter %s: error %q, want it to contain %q", body, reason, want)
		}
		if _, err := time.Parse(time.RFC3339Nano, aws.ToString(m.MessageAttributes[jobs.AttrFailedAt].StringValue)); err != nil {
			t.Errorf("dead letter %s: failed_at: %v", body, err)
		}
		if aws.ToString(m.MessageAttributes[jobs.AttrJobID].StringValue) == "" {
			t.Errorf("dead letter %s has no job_id", body)
		}
		delete(poison, body)
	}
	handled.await(t, 10*time.Second, "good jobs and the body-only job handled",
		func(n map[string]int) bool { return len(n) == 21 && n["body only"] == 1 })
	receiveNone(t, client, url, time.Second)
}

func TestConsumer_APanickingHandlerIsRetriedAndTheWorkerGoesOn(t *testing.T) {
	testenv.Require(t)
	client := testenv.SQS(t)
	url, _ := testenv.NewQueue(t, client, testenv.QueueOptions{VisibilityTimeout: 3})
	handled := newTally()
	var panics atomic.Int32
	mux := consumer.NewMux()
	consumer.Handle(mux, func(ctx context.Context, j jobs.Ping) error {
		if j.Message == "0" && panics.Add(1) == 1 {
			panic("handler bug")
		}
		handled.add(j.Message)
		return nil
	})
	enqueue(t, client, url, pings(10)...)
	start(t, client, mux, consumer.Config{
		Queues: []consumer.QueueConfig{{URL: url, Concurrency: 2}}, BackoffBase: time.Second, BackoffMax: time.Second,
	})
	handled.await(t, 15*time.Second, "every job handled, the panicked one on its retry",
		func(n map[string]int) bool { return len(n) == 10 })
	if panics.Load() != 2 {
		t.Fatalf("job 0 ran %d times, want a panic then a success", panics.Load())
	}
}

func TestConsumer_ShutdownDeletesFinishedJobsAndReleasesUnfinishedOnes(t *testing.T) {
	testenv.Require(t)
	client := testenv.SQS(t)
	url, _ := testenv.NewQueue(t, client, testenv.QueueOptions{VisibilityTimeout: 60})
	quick, slow := newTally(), newTally()
	mux := consumer.NewMux()
	consumer.Handle(mux, func(ctx context.Context, j jobs.Ping) error {
		if !strings.HasPrefix(j.Message, "slow") {
			quick.add(j.Message)
			return nil
		}
		slow.add(j.Message)
		<-ctx.Done() // far longer than the drain timeout
		return ctx.Err()
	})
	enqueue(t, client, url, jobs.Ping{Message: "slow-1"}, jobs.Ping{Message: "slow-2"})
	enqueue(t, client, url, pings(8)...)
	r := start(t, client, mux, consumer.Config{
		Queues: []consumer.QueueConfig{{URL: url, Concurrency: 10}}, DrainTimeout: 2 * time.Second,
	})
	quick.await(t, 10*time.Second, "quick jobs done", func(n map[string]int) bool { return len(n) == 8 })
	slow.await(t, 10*time.Second, "slow jobs running", func(n map[string]int) bool { return len(n) == 2 })

	stopped := time.Now()
	r.stop(t)
	if took := time.Since(stopped); took > 2*time.Second+3*time.Second {
		t.Errorf("shutdown took %s with a 2 s drain timeout", took)
	}
	// The slow jobs are visible again at once, although their lease was 60 s;
	// the quick ones were deleted and do not come back.
	back := testenv.ReceiveAll(t.Context(), t, client, url, 2, 3*time.Second)
	for _, m := range back {
		if b := aws.ToString(m.Body); !strings.Contains(b, "slow") {
			t.Errorf("finished job came back after shutdown: %s", b)
		}
	}
	for msg, n := range quick.snapshot() {
		if n != 1 {
			t.Errorf("job %s ran %d times", msg, n)
		}
	}
}

func TestConsumer_HungHandlerGivesItsMessageBackAndMakesTheWorkerUnhealthy(t *testing.T) {
	testenv.Require(t)
	client := testenv.SQS(t)
	url, _ := testenv.NewQueue(t, client, testenv.QueueOptions{VisibilityTimeout: 3})
	unblock := make(chan struct{})
	var runs atomic.Int32
	handled := newTally()
	mux := consumer.NewMux()
	consumer.Handle(mux, func(ctx context.Context, j jobs.Ping) error {
		if runs.Add(1) == 1 {
			<-unblock // ignores ctx: a hung handler
		}
		handled.add(j.Message)
		return nil
	}, consumer.Timeout(time.Second))
	enqueue(t, client, url, jobs.Ping{Message: "stuck"})
	r := start(t, client, mux, consumer.Config{
		Queues:             []consumer.QueueConfig{{URL: url, Concurrency: 2}},
		HungGrace:          time.Second,
		UnhealthyHungShare: 0.4,
		BackoffBase:        time.Second, BackoffMax: time.Second,
	})
	// Timeout 1 s + grace 1 s, then the message is given back after a 1 s
	// backoff and runs again in the other slot.
	handled.await(t, 10*time.Second, "the hung job's retry handled", func(n map[string]int) bool { return n["stuck"] == 1 })
	if err := r.Healthy(); err == nil {
		t.Fatal("Healthy() = nil while a hung handler holds 1 of 2 slots, more than the 0.4 allowed")
	}
	close(unblock)
	deadline := time.Now().Add(5 * time.Second)
	for r.Healthy() != nil && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if err := r.Healthy(); err != nil {
		t.Fatalf("still unhealthy after the hung handler returned: %v", err)
	}
}
