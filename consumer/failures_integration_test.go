package consumer_test

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/busywork/busywork/consumer"
	"github.com/busywork/busywork/internal/testenv"
	"github.com/busywork/busywork/jobs"
	"github.com/busywork/busywork/producer"
)

// failOneDelete makes the first DeleteMessageBatch call of two or more
// entries skip its second entry and report it Failed, as SQS may; fauxqs
// never fails a delete. The stripped receipt handle is sent on *stripped.
func failOneDelete(stripped chan<- string) func(*sqs.Options) {
	var done atomic.Bool
	return around("DeleteMessageBatch", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
		del := in.Parameters.(*sqs.DeleteMessageBatchInput)
		if len(del.Entries) < 2 || !done.CompareAndSwap(false, true) {
			return next.HandleInitialize(ctx, in)
		}
		victim := del.Entries[1]
		rest := *del
		rest.Entries = slices.Delete(slices.Clone(del.Entries), 1, 2)
		in.Parameters = &rest
		out, md, err := next.HandleInitialize(ctx, in)
		if err == nil {
			res := out.Result.(*sqs.DeleteMessageBatchOutput)
			res.Failed = append(res.Failed, types.BatchResultErrorEntry{
				Id: victim.Id, Code: aws.String("InternalError"), Message: aws.String("injected"), SenderFault: false,
			})
			stripped <- aws.ToString(victim.ReceiptHandle)
		}
		return out, md, err
	})
}

func TestConsumer_RetriesExactlyTheDeletesABatchReportsFailed(t *testing.T) {
	testenv.Require(t)
	var rec calls
	stripped := make(chan string, 1)
	// Recording runs first (Before), so it sees the calls as the consumer
	// made them; the fault is injected after it.
	client := testenv.SQS(t, rec.record, failOneDelete(stripped))
	url, _ := testenv.NewQueue(t, client, testenv.QueueOptions{VisibilityTimeout: 2})
	handled := newTally()
	mux := consumer.NewMux()
	consumer.Handle(mux, func(ctx context.Context, j jobs.Ping) error {
		handled.add(j.Message)
		return nil
	})
	enqueue(t, client, url, pings(10)...)
	r := start(t, client, mux, consumer.Config{Queues: []consumer.QueueConfig{{URL: url, Concurrency: 10}}})
	handled.await(t, 10*time.Second, "10 jobs handled", func(n map[string]int) bool { return len(n) == 10 })

	var handle string
	select {
	case handle = <-stripped:
	case <-time.After(5 * time.Second):
		t.Fatal("no DeleteMessageBatch of two or more entries was made")
	}
	// Past the 2 s lease: a delete that was dropped would show the message again.
	time.Sleep(3 * time.Second)
	r.stop(t)
	receiveNone(t, client, url, time.Second)

	rec.mu.Lock()
	defer rec.mu.Unlock()
	var retries int
	for _, in := range rec.inputs["DeleteMessageBatch"] {
		del := in.(*sqs.DeleteMessageBatchInput)
		for _, e := range del.Entries {
			if aws.ToString(e.ReceiptHandle) != handle {
				continue
			}
			retries++
			if retries == 2 && len(del.Entries) != 1 {
				t.Errorf("the retry carried %d entries, want only the failed one", len(del.Entries))
			}
		}
	}
	if retries != 2 {
		t.Fatalf("the failed entry was in %d delete calls, want 2 (the failed one and its retry)", retries)
	}
	for msg, n := range handled.snapshot() {
		if n != 1 {
			t.Errorf("job %s handled %d times", msg, n)
		}
	}
}

func TestConsumer_HandlersEnqueueFollowUpJobs(t *testing.T) {
	testenv.Require(t)
	client := testenv.SQS(t)
	url, _ := testenv.NewQueue(t, client, testenv.QueueOptions{})
	key := []byte("follow-up key")
	p := producer.New(client, url, producer.WithSigningKey(key))
	handled := newTally()
	mux := consumer.NewMux()
	consumer.Handle(mux, func(ctx context.Context, j jobs.Ping) error {
		handled.add("ping " + j.Message)
		return nil
	})
	consumer.Handle(mux, func(ctx context.Context, j welcome) error {
		handled.add("welcome")
		_, err := p.Send(ctx, jobs.Ping{Message: "welcomed " + j.UserID})
		return err
	})
	if _, err := p.Send(t.Context(), welcome{UserID: "ada"}); err != nil {
		t.Fatal(err)
	}
	start(t, client, mux, consumer.Config{Queues: []consumer.QueueConfig{{URL: url}}, SigningKey: key})
	handled.await(t, 10*time.Second, "the welcome and its follow-up ping handled",
		func(n map[string]int) bool { return n["welcome"] == 1 && n["ping welcomed ada"] == 1 })
}
