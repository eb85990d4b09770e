package consumer_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go/middleware"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/busywork/busywork/consumer"
	"github.com/busywork/busywork/internal/testenv"
	"github.com/busywork/busywork/jobs"
	"github.com/busywork/busywork/metrics"
)

func TestConsumer_ASlotFreesWhenItsHandlerReturnsNotWhenSQSConfirmsTheDelete(t *testing.T) {
	testenv.Require(t)
	unblock := make(chan struct{})
	var deletes, confirmed atomic.Int32
	client := testenv.SQS(t, around("DeleteMessageBatch", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
		deletes.Add(1)
		select { // every delete waits until the test lets it go
		case <-unblock:
		case <-ctx.Done():
			return middleware.InitializeOutput{}, middleware.Metadata{}, ctx.Err()
		}
		out, md, err := next.HandleInitialize(ctx, in)
		if err == nil {
			confirmed.Add(1)
		}
		return out, md, err
	}))
	url, _ := testenv.NewQueue(t, client, testenv.QueueOptions{VisibilityTimeout: 30})
	handled := newTally()
	mux := consumer.NewMux()
	consumer.Handle(mux, func(ctx context.Context, j jobs.Ping) error {
		handled.add(j.Message)
		return nil
	})
	enqueue(t, client, url, pings(3)...)
	r := start(t, client, mux, consumer.Config{Queues: []consumer.QueueConfig{{URL: url, Concurrency: 1, MaxUnconfirmed: 5}}})

	// One slot: the second and third jobs can only run if the first one's
	// slot freed while its delete was still held.
	handled.await(t, 10*time.Second, "3 jobs handled in one slot", func(n map[string]int) bool { return len(n) == 3 })
	if deletes.Load() == 0 || confirmed.Load() != 0 {
		t.Fatalf("%d deletes sent, %d confirmed; want deletes sent and none confirmed yet", deletes.Load(), confirmed.Load())
	}
	close(unblock)
	r.stop(t)
	receiveNone(t, client, url, time.Second)
}

func TestConsumer_ASlowDeleteKeepsItsLeaseAndTheJobRunsOnce(t *testing.T) {
	testenv.Require(t)
	var rec calls
	const deleteTakes = 5500 * time.Millisecond // more than half the 8 s lease, more than the 5 s first lease
	var deleted atomic.Bool
	client := testenv.SQS(t, rec.record, around("DeleteMessageBatch", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
		select {
		case <-time.After(deleteTakes):
		case <-ctx.Done():
			return middleware.InitializeOutput{}, middleware.Metadata{}, ctx.Err()
		}
		out, md, err := next.HandleInitialize(ctx, in)
		if err == nil && len(out.Result.(*sqs.DeleteMessageBatchOutput).Failed) == 0 {
			deleted.Store(true)
		}
		return out, md, err
	}))
	url, _ := testenv.NewQueue(t, client, testenv.QueueOptions{VisibilityTimeout: 8})
	handled := newTally()
	mux := consumer.NewMux()
	consumer.Handle(mux, func(ctx context.Context, j jobs.Ping) error {
		handled.add(j.Message)
		return nil
	})
	enqueue(t, client, url, jobs.Ping{Message: "once"})
	r := start(t, client, mux, consumer.Config{
		Queues:       []consumer.QueueConfig{{URL: url, Concurrency: 2}},
		DrainTimeout: 10 * time.Second,
	})
	handled.await(t, 10*time.Second, "the job handled", func(n map[string]int) bool { return n["once"] == 1 })
	// The consumer keeps polling: had the visibility run out during the
	// delete, it would have run the job again.
	deadline := time.Now().Add(3 * deleteTakes)
	for !deleted.Load() && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if !deleted.Load() {
		t.Fatal("the slow delete never completed")
	}
	r.stop(t)
	if n := handled.snapshot()["once"]; n != 1 {
		t.Fatalf("the job ran %d times while its delete was slow", n)
	}
	if rec.count("ChangeMessageVisibilityBatch") == 0 {
		t.Fatal("nothing extended the visibility while the delete was in flight")
	}
	receiveNone(t, client, url, time.Second)
}

func TestConsumer_AnExtensionRefusedForGoodCancelsTheHandlerAsLeaseLost(t *testing.T) {
	testenv.Require(t)
	// Every extension (to the 30 s lease) names a receipt handle SQS does
	// not know: the emulator refuses it as it would a handle whose message
	// another worker received. Other visibility changes (the release at
	// the stop of a second delivery) pass.
	client := testenv.SQS(t, around("ChangeMessageVisibilityBatch", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
		orig := in.Parameters.(*sqs.ChangeMessageVisibilityBatchInput)
		bogus := *orig
		bogus.Entries = make([]types.ChangeMessageVisibilityBatchRequestEntry, len(orig.Entries))
		for i, e := range orig.Entries {
			if e.VisibilityTimeout == 30 {
				e.ReceiptHandle = aws.String("not-a-receipt-handle")
			}
			bogus.Entries[i] = e
		}
		in.Parameters = &bogus
		return next.HandleInitialize(ctx, in)
	}))
	url, _ := testenv.NewQueue(t, client, testenv.QueueOptions{VisibilityTimeout: 30})
	logs := &logBuffer{}
	causes := make(chan error, 1)
	mux := consumer.NewMux()
	consumer.Handle(mux, func(ctx context.Context, j jobs.Ping) error {
		<-ctx.Done()
		causes <- context.Cause(ctx)
		return ctx.Err()
	})
	ids := enqueue(t, client, url, jobs.Ping{Message: "long"})
	start(t, client, mux, consumer.Config{Queues: []consumer.QueueConfig{{URL: url}}, Logger: logs.logger()})

	select {
	case cause := <-causes:
		if !errors.Is(cause, consumer.ErrLeaseLost) {
			t.Fatalf("handler's context ended with %v, want ErrLeaseLost", cause)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the handler's context was not cancelled after its extension was refused")
	}
	waitFor(t, 5*time.Second, func() bool { return logs.outcome(ids[0]) == consumer.OutcomeLeaseLost },
		func() string { return "no lease_lost outcome logged:\n" + logs.String() })
}

func TestConsumer_ShutdownWithFewReceivesAndManySlotsWhileJobsFinish(t *testing.T) {
	testenv.Require(t)
	client := testenv.SQS(t)
	url, _ := testenv.NewQueue(t, client, testenv.QueueOptions{VisibilityTimeout: 30})
	handled := newTally()
	mux := consumer.NewMux()
	consumer.Handle(mux, func(ctx context.Context, j jobs.Ping) error {
		time.Sleep(5 * time.Millisecond)
		handled.add(j.Message)
		return nil
	})
	const n = 600
	enqueue(t, client, url, pings(n)...)
	cfg := consumer.Config{
		Queues:       []consumer.QueueConfig{{URL: url, Concurrency: 100, MaxReceives: 2}},
		DrainTimeout: 3 * time.Second,
	}
	r := start(t, client, mux, cfg)
	handled.await(t, 30*time.Second, "a third of the jobs handled", func(m map[string]int) bool { return len(m) >= n/3 })

	stopped := time.Now()
	r.stop(t) // a panic here fails the test binary
	if took, bound := time.Since(stopped), cfg.DrainTimeout+consumer.ShutdownMargin; took > bound {
		t.Errorf("Run returned %s after its context ended, past the documented bound %s", took, bound)
	}
	done := handled.snapshot()
	for msg, c := range done {
		if c != 1 {
			t.Errorf("job %s ran %d times", msg, c)
		}
	}
	// Every job that ran was deleted; every other one is on the queue.
	left := testenv.ReceiveAll(t.Context(), t, client, url, n-len(done), 30*time.Second)
	for _, m := range left {
		var p jobs.Ping
		if err := jobsUnmarshal(m, &p); err != nil || done[p.Message] != 0 {
			t.Fatalf("message %s still on the queue after its job ran (%v)", aws.ToString(m.Body), err)
		}
	}
}

// panicky is a job type whose Validate panics.
type panicky struct {
	X int `json:"x"`
}

func (panicky) Type() string    { return "panicky" }
func (panicky) Validate() error { panic("validate bug") }

func TestConsumer_APanicInValidateDeadLettersTheJobAndTheWorkerGoesOn(t *testing.T) {
	testenv.Require(t)
	client := testenv.SQS(t)
	url, dlq := testenv.NewQueue(t, client, testenv.QueueOptions{VisibilityTimeout: 30})
	handled := newTally()
	mux := consumer.NewMux()
	consumer.Handle(mux, func(context.Context, panicky) error { t.Error("handler ran"); return nil })
	consumer.Handle(mux, func(ctx context.Context, j jobs.Ping) error { handled.add(j.Message); return nil })
	sendRaw(t, client, url, `{"type":"panicky","x":1}`)
	enqueue(t, client, url, pings(5)...)
	start(t, client, mux, consumer.Config{Queues: []consumer.QueueConfig{{URL: url, Concurrency: 2}}})

	dead := testenv.ReceiveAll(t.Context(), t, client, dlq, 1, 10*time.Second)
	if reason := testenv.Attr(dead[0], jobs.AttrError); !strings.Contains(reason, "panicked") || !strings.Contains(reason, "validate bug") {
		t.Fatalf("dead letter error = %q, want the panic", reason)
	}
	handled.await(t, 10*time.Second, "the other jobs handled", func(n map[string]int) bool { return len(n) == 5 })
}

func TestConsumer_ADeadLetterOfAMessageWithTenAttributesKeepsItsIdentity(t *testing.T) {
	testenv.Require(t)
	client := testenv.SQS(t)
	url, dlq := testenv.NewQueue(t, client, testenv.QueueOptions{VisibilityTimeout: 30})
	mux := consumer.NewMux()
	consumer.Handle(mux, func(context.Context, jobs.Ping) error { return nil })
	body := `{"type":"launch_rockets"}`
	attrs := map[string]types.MessageAttributeValue{
		jobs.AttrJobID:      stringAttr("job-42"),
		jobs.AttrJobType:    stringAttr("launch_rockets"),
		jobs.AttrSignature:  stringAttr(jobs.Sign([]byte("key"), []byte(body))),
		jobs.AttrEnqueuedAt: stringAttr("2026-12-01T00:00:00Z"),
	}
	for _, name := range []string{"a", "b", "c", "d", "e", "f"} { // ten in all
		attrs[name] = stringAttr(name)
	}
	if _, err := client.SendMessage(t.Context(), &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(body), MessageAttributes: attrs}); err != nil {
		t.Fatal(err)
	}
	start(t, client, mux, consumer.Config{Queues: []consumer.QueueConfig{{URL: url}}})

	dead := testenv.ReceiveAll(t.Context(), t, client, dlq, 1, 10*time.Second)[0]
	for _, name := range []string{jobs.AttrJobID, jobs.AttrJobType, jobs.AttrSignature} {
		if got, want := testenv.Attr(dead, name), aws.ToString(attrs[name].StringValue); got != want {
			t.Errorf("dead letter %s = %q, want the original's %q", name, got, want)
		}
	}
	if !strings.Contains(testenv.Attr(dead, jobs.AttrError), "no handler") || testenv.Attr(dead, jobs.AttrFailedAt) == "" {
		t.Errorf("dead letter lacks its error or failed_at: %v", dead.MessageAttributes)
	}
	if len(dead.MessageAttributes) != 10 {
		t.Errorf("dead letter has %d attributes, want SQS's 10", len(dead.MessageAttributes))
	}
}

func TestConsumer_RetryAfterSetsTheVisibilityItAsksFor(t *testing.T) {
	testenv.Require(t)
	var rec calls
	client := testenv.SQS(t, rec.record)
	url, _ := testenv.NewQueue(t, client, testenv.QueueOptions{VisibilityTimeout: 60})
	tries := make(chan time.Time, 4)
	mux := consumer.NewMux()
	consumer.Handle(mux, func(ctx context.Context, j jobs.Ping) error {
		tries <- time.Now()
		if d, _ := consumer.DeliveryFromContext(ctx); d.ReceiveCount == 1 {
			return consumer.RetryAfter(3*time.Second, errBoom)
		}
		return nil
	})
	enqueue(t, client, url, jobs.Ping{Message: "later"})
	start(t, client, mux, consumer.Config{Queues: []consumer.QueueConfig{{URL: url}}, BackoffBase: time.Minute, BackoffMax: time.Hour})

	first := <-tries
	var second time.Time
	select {
	case second = <-tries:
	case <-time.After(20 * time.Second):
		t.Fatal("no retry within 20 s; the backoff (a minute) or the 60 s lease was used instead of RetryAfter")
	}
	if gap := second.Sub(first); gap < 3*time.Second {
		t.Errorf("retried after %s, before the 3 s RetryAfter asked for", gap)
	}
	if got := rec.visibilities(); len(got) == 0 || got[len(got)-1] != 3 {
		t.Errorf("visibility changes %v, want the settling one to be 3 s", got)
	}
}

func TestConsumer_AFailedCopyToTheDLQWaitsForRedriveWithoutRunningTheJobAgain(t *testing.T) {
	testenv.Require(t)
	var dlqURL atomic.Value
	dlqURL.Store("")
	client := testenv.SQS(t, around("SendMessage", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
		if aws.ToString(in.Parameters.(*sqs.SendMessageInput).QueueUrl) == dlqURL.Load() {
			return middleware.InitializeOutput{}, middleware.Metadata{}, errors.New("injected: DLQ unreachable")
		}
		return next.HandleInitialize(ctx, in)
	}))
	url, dlq := testenv.NewQueue(t, client, testenv.QueueOptions{VisibilityTimeout: 30, MaxReceiveCount: 3})
	dlqURL.Store(dlq)
	var runs atomic.Int32
	mux := consumer.NewMux()
	consumer.Handle(mux, func(context.Context, jobs.Ping) error {
		runs.Add(1)
		return consumer.Permanent(errBoom)
	})
	reg := prometheus.NewRegistry()
	meters := metrics.NewConsumer(reg)
	enqueue(t, client, url, jobs.Ping{Message: "unparkable"})
	start(t, client, mux, consumer.Config{
		Queues: []consumer.QueueConfig{{URL: url}}, Metrics: meters, BackoffBase: time.Second, BackoffMax: time.Second,
	})

	// SQS's redrive policy parks it after 3 receives.
	dead := testenv.ReceiveAll(t.Context(), t, client, dlq, 1, 30*time.Second)
	if got := aws.ToString(dead[0].Body); !strings.Contains(got, "unparkable") {
		t.Fatalf("dead letter %s", got)
	}
	if n := runs.Load(); n != 1 {
		t.Fatalf("handler ran %d times, want once: after the failed copy it must not see the job again", n)
	}
	if n := counterSum(t, reg, "busywork_dead_letter_failures_total"); n < 2 {
		t.Fatalf("busywork_dead_letter_failures_total = %v, want one per failed copy (2 before the redrive)", n)
	}
}

// A heartbeat extension that is slow to reach SQS must not land after the
// visibility change that settles its message: here a retry in 3 s, asked
// for by RetryAfter while an extension of the 30 s lease is on its way.
// Had the extension landed last, the job would come back only after 30 s.
func TestConsumer_ASlowExtensionNeverOverwritesTheChangeThatSettlesItsMessage(t *testing.T) {
	testenv.Require(t)
	const lease = 30 // the queue's visibility timeout, so the lease
	extending := make(chan struct{}, 1)
	client := testenv.SQS(t, around("ChangeMessageVisibilityBatch", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
		if e := in.Parameters.(*sqs.ChangeMessageVisibilityBatchInput).Entries; e[0].VisibilityTimeout == lease {
			select { // the handler may settle now
			case extending <- struct{}{}:
			default:
			}
			time.Sleep(time.Second) // on its way for a second, within the call's timeout
		}
		return next.HandleInitialize(ctx, in)
	}))
	url, _ := testenv.NewQueue(t, client, testenv.QueueOptions{VisibilityTimeout: lease})
	tries := make(chan time.Time, 2)
	mux := consumer.NewMux()
	consumer.Handle(mux, func(ctx context.Context, j jobs.Ping) error {
		if d, _ := consumer.DeliveryFromContext(ctx); d.ReceiveCount > 1 {
			tries <- time.Now()
			return nil
		}
		select { // the heartbeat extends the 5 s first lease after 2.5 s
		case <-extending:
		case <-time.After(10 * time.Second):
			t.Error("no extension while the handler ran")
		}
		tries <- time.Now()
		return consumer.RetryAfter(3*time.Second, errBoom)
	})
	enqueue(t, client, url, jobs.Ping{Message: "settled"})
	start(t, client, mux, consumer.Config{Queues: []consumer.QueueConfig{{URL: url}}})

	first := <-tries
	select {
	case second := <-tries:
		t.Logf("delivered again %s after the first try returned", second.Sub(first).Round(time.Millisecond))
	case <-time.After(10 * time.Second):
		t.Fatalf("not delivered again within 10 s of a retry in 3 s: the extension to %d s overwrote it", lease)
	}
}

// A job whose handler failed for good, but whose copy to the DLQ failed,
// must not reach a handler again in another worker (or after a restart):
// the fact travels with the message, parked on its queue, not in the
// memory of the worker that saw it fail.
func TestConsumer_AJobWhoseCopyToTheDLQFailedNeverRunsAgainInAnotherWorker(t *testing.T) {
	testenv.Require(t)
	var dlqDown atomic.Bool
	dlqDown.Store(true)
	var dlqURL atomic.Value
	dlqURL.Store("")
	client := testenv.SQS(t, around("SendMessage", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
		if dlqDown.Load() && aws.ToString(in.Parameters.(*sqs.SendMessageInput).QueueUrl) == dlqURL.Load() {
			return middleware.InitializeOutput{}, middleware.Metadata{}, errors.New("injected: DLQ unreachable")
		}
		return next.HandleInitialize(ctx, in)
	}))
	url, dlq := testenv.NewQueue(t, client, testenv.QueueOptions{VisibilityTimeout: 30, MaxReceiveCount: 5})
	dlqURL.Store(dlq)
	var runs atomic.Int32
	mux := consumer.NewMux()
	consumer.Handle(mux, func(context.Context, jobs.Ping) error {
		runs.Add(1)
		return consumer.Permanent(errBoom)
	})
	ids := enqueue(t, client, url, jobs.Ping{Message: "declined"})

	// The first worker runs the job, fails to copy it to the DLQ, and
	// stops.
	var logs logBuffer
	first := start(t, client, mux, consumer.Config{Queues: []consumer.QueueConfig{{URL: url}}, Logger: logs.logger()})
	waitFor(t, 10*time.Second, func() bool { return logs.outcome(ids[0]) != "" },
		func() string { return "no outcome logged:\n" + logs.String() })
	first.stop(t)

	// Another worker, with the DLQ reachable again.
	dlqDown.Store(false)
	second := start(t, client, mux, consumer.Config{Queues: []consumer.QueueConfig{{URL: url}}})
	dead := testenv.ReceiveAll(t.Context(), t, client, dlq, 1, 10*time.Second)
	second.stop(t) // its last deletes confirmed
	if n := runs.Load(); n != 1 {
		t.Fatalf("the handler ran %d times, want once: the second worker ran the job again", n)
	}
	attrs := dead[0].MessageAttributes
	if why := aws.ToString(attrs[jobs.AttrError].StringValue); why != "permanent: boom" {
		t.Errorf("dead letter's error = %q, want the handler's", why)
	}
	if id := aws.ToString(attrs[jobs.AttrJobID].StringValue); id != ids[0] {
		t.Errorf("dead letter's job_id = %q, want %q", id, ids[0])
	}
	if n := testenv.QueueSize(t, client, url); n != 0 {
		t.Errorf("%d messages left on the queue", n)
	}
}
