package consumer_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

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
	graces := newTally()
	mux := consumer.NewMux()
	consumer.Handle(mux, func(ctx context.Context, j jobs.Ping) error {
		d, _ := consumer.DeliveryFromContext(ctx)
		ids.add(d.ID)
		graces.add(d.HungGrace.String())
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
	if g := graces.snapshot(); g["10s"] != 25 {
		t.Errorf("Delivery.HungGrace seen by the handlers: %v, want the default 10s every time", g)
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
	var rec calls
	client := testenv.SQS(t, rec.record)
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

	dead := testenv.ReceiveAll(t.Context(), t, client, dlq, 1, 40*time.Second)
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
	// Equal jitter from a 2 s base: receive k waits between 2^(k-2) and
	// 2^(k-1) times the base, in whole seconds rounded up. A flat or
	// shrinking backoff misses the third range.
	vis := rec.visibilities()
	want := [][2]int32{{1, 2}, {2, 4}, {4, 8}}
	if len(vis) != len(want) {
		t.Fatalf("visibility changes %v, want one per failed try", vis)
	}
	for k, r := range want {
		if vis[k] < r[0] || vis[k] > r[1] {
			t.Errorf("try %d set visibility %d s, want %d to %d s (all: %v)", k+1, vis[k], r[0], r[1], vis)
		}
	}
	for k := 1; k < len(at); k++ {
		if gap := at[k].Sub(at[k-1]); gap < time.Duration(vis[k-1]-1)*time.Second {
			t.Errorf("try %d came %s after the one before, sooner than its %d s backoff", k+1, gap, vis[k-1])
		}
	}
}

func TestConsumer_DeadLettersPoisonMessagesWithAReasonAndKeepsWorking(t *testing.T) {
	testenv.Require(t)
	client := testenv.SQS(t, sqsCharset)
	url, dlq := testenv.NewQueue(t, client, testenv.QueueOptions{VisibilityTimeout: 2})
	handled := newTally()
	mux := consumer.NewMux()
	consumer.Handle(mux, func(ctx context.Context, j jobs.Ping) error {
		handled.add(j.Message)
		return nil
	})
	consumer.Handle(mux, func(ctx context.Context, j welcome) error {
		return consumer.Permanent(errBoom)
	})
	poison := map[string]string{ // body -> what its error attribute must say
		`not json at all`:                           "malformed job",
		`{"type":"launch_rockets"}`:                 `no handler for job type "launch_rockets"`,
		`{"type":"ping","message":12}`:              "decode ping job",
		`{"type":"welcome_email","user_id":"Ada!"}`: "invalid welcome_email job: user_id",
		`{"type":"welcome_email","user_id":"ada"}`:  "permanent: boom",
		`{"type":"\u0001"}`:                         `no handler for job type "\x01"`, // a type SQS refuses in an attribute
	}
	for body := range poison {
		sendRaw(t, client, url, body)
	}
	sendRaw(t, client, url, `{"type":"ping","message":"body only"}`)
	enqueue(t, client, url, pings(20)...)
	r := start(t, client, mux, consumer.Config{Queues: []consumer.QueueConfig{{URL: url, Concurrency: 4}}})

	dead := testenv.ReceiveAll(t.Context(), t, client, dlq, len(poison), 10*time.Second)
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
		if typ, ok := m.MessageAttributes[jobs.AttrJobType]; ok && strings.ContainsRune(aws.ToString(typ.StringValue), 1) {
			t.Errorf("dead letter %s: job_type %q holds the character SQS refuses", body, aws.ToString(typ.StringValue))
		}
		delete(poison, body)
	}
	handled.await(t, 10*time.Second, "good jobs and the body-only job handled",
		func(n map[string]int) bool { return len(n) == 21 && n["body only"] == 1 })
	r.stop(t)
	// Deleted, not just hidden: nothing comes back after the 2 s lease, and
	// each poison message reached the DLQ once (counted again after the
	// stop).
	receiveNone(t, client, url, 3*time.Second)
	if n := testenv.QueueSize(t, client, dlq); n != len(dead) {
		t.Fatalf("%d messages in the DLQ after the stop, want the %d poison messages once each", n, len(dead))
	}
}

func TestConsumer_APanickingHandlerIsRetriedAndTheWorkerGoesOn(t *testing.T) {
	testenv.Require(t)
	var rec calls
	client := testenv.SQS(t, rec.record)
	url, _ := testenv.NewQueue(t, client, testenv.QueueOptions{VisibilityTimeout: 60})
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
	// Retried by the engine's 1 s backoff, not by the 60 s lease running out.
	if vis := rec.visibilities(); len(vis) != 1 || vis[0] != 1 {
		t.Fatalf("visibility changes %v, want the panic's 1 s backoff", vis)
	}
}

func TestConsumer_ShutdownDeletesFinishedJobsAndReleasesUnfinishedOnes(t *testing.T) {
	testenv.Require(t)
	client := testenv.SQS(t)
	url, _ := testenv.NewQueue(t, client, testenv.QueueOptions{VisibilityTimeout: 4})
	quick, slow := newTally(), newTally()
	finishing := make(chan struct{})
	mux := consumer.NewMux()
	consumer.Handle(mux, func(ctx context.Context, j jobs.Ping) error {
		switch {
		case strings.HasPrefix(j.Message, "slow"):
			slow.add(j.Message)
			<-ctx.Done() // far longer than the drain timeout
			return ctx.Err()
		case j.Message == "finishing": // still running at SIGTERM, done within the drain
			slow.add(j.Message)
			<-finishing
		}
		quick.add(j.Message)
		return nil
	})
	enqueue(t, client, url, jobs.Ping{Message: "slow-1"}, jobs.Ping{Message: "slow-2"}, jobs.Ping{Message: "finishing"})
	enqueue(t, client, url, pings(8)...)
	cfg := consumer.Config{
		Queues:       []consumer.QueueConfig{{URL: url, Concurrency: 10}},
		DrainTimeout: 4 * time.Second,
	}
	r := start(t, client, mux, cfg)
	quick.await(t, 10*time.Second, "quick jobs done", func(n map[string]int) bool { return len(n) == 8 })
	slow.await(t, 10*time.Second, "slow jobs running", func(n map[string]int) bool { return len(n) == 3 })

	// SIGTERM while the pollers are in their long polls; a job sent now
	// arrives in a receive that is in flight.
	stopped := time.Now()
	r.cancel()
	enqueue(t, client, url, jobs.Ping{Message: "late"})
	time.AfterFunc(500*time.Millisecond, func() { close(finishing) })
	r.stop(t)
	if took, bound := time.Since(stopped), cfg.DrainTimeout+consumer.ShutdownMargin; took > bound {
		t.Errorf("shutdown took %s, past the documented bound %s", took, bound)
	}
	// The slow jobs are visible again at once; the late one too, unless the
	// receive in flight brought it and it ran. Nothing is stranded.
	want := 2
	if quick.snapshot()["late"] == 0 {
		want = 3
	}
	back := testenv.ReceiveAll(t.Context(), t, client, url, want, 2*time.Second)
	for _, m := range back {
		if b := aws.ToString(m.Body); !strings.Contains(b, "slow") && !strings.Contains(b, "late") {
			t.Errorf("finished job came back after shutdown: %s", b)
		}
		if _, err := client.DeleteMessage(t.Context(), &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle}); err != nil {
			t.Fatal(err)
		}
	}
	// The finished ones, "finishing" included, were deleted: nothing comes
	// back after their 4 s lease.
	receiveNone(t, client, url, 5*time.Second)
	for msg, n := range quick.snapshot() {
		if n != 1 {
			t.Errorf("job %s ran %d times", msg, n)
		}
	}
	if quick.snapshot()["finishing"] != 1 {
		t.Error("the job that finished during the drain did not complete")
	}
}

func TestConsumer_HungHandlerGivesItsMessageBackAndMakesTheWorkerUnhealthy(t *testing.T) {
	testenv.Require(t)
	var rec calls
	client := testenv.SQS(t, rec.record)
	url, _ := testenv.NewQueue(t, client, testenv.QueueOptions{VisibilityTimeout: 60})
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
	// Given back by the engine after a 1 s backoff, not by the 60 s lease.
	if vis := rec.visibilities(); len(vis) == 0 || vis[len(vis)-1] != 1 {
		t.Fatalf("visibility changes %v, want the hung job given back with its 1 s backoff", vis)
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
