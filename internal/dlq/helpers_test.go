package dlq_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/busywork/busywork/internal/dlq"
	"github.com/busywork/busywork/internal/testenv"
	"github.com/busywork/busywork/jobs"
)

// world is a queue with its dead-letter queue, on the emulator.
type world struct {
	t      *testing.T
	client *sqs.Client
	q      *dlq.Queue
}

// newWorld makes a queue and its DLQ (redrive after maxReceives receives;
// 0 means testenv's default) and opens them.
func newWorld(t *testing.T, opts testenv.QueueOptions, optFns ...func(*sqs.Options)) *world {
	t.Helper()
	client := testenv.SQS(t)
	url, _ := testenv.NewQueue(t, client, opts)
	q, err := dlq.Open(t.Context(), testenv.SQS(t, optFns...), url)
	if err != nil {
		t.Fatal(err)
	}
	return &world{t: t, client: client, q: q}
}

// letter is a dead letter to put in the DLQ as the consumer copies one:
// the body, error and failed_at, and the producer's attributes.
type letter struct {
	id, typ, body, err string
	signature          string
}

func (l letter) attributes() map[string]types.MessageAttributeValue {
	attrs := map[string]types.MessageAttributeValue{
		jobs.AttrJobID:      str(l.id),
		jobs.AttrJobType:    str(l.typ),
		jobs.AttrEnqueuedAt: str("2026-12-01T10:00:00Z"),
		jobs.AttrError:      str(l.err),
		jobs.AttrFailedAt:   str("2026-12-01T10:00:01Z"),
	}
	if l.signature != "" {
		attrs[jobs.AttrSignature] = str(l.signature)
	}
	return attrs
}

func str(s string) types.MessageAttributeValue {
	return types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(s)}
}

// pings returns n ping letters with ids prefix-0 ... and error err.
func pings(prefix string, n int, err string) []letter {
	ls := make([]letter, n)
	for i := range ls {
		ls[i] = letter{id: fmt.Sprintf("%s-%d", prefix, i), typ: jobs.TypePing, body: fmt.Sprintf(`{"type":"ping","message":"%d"}`, i), err: err}
	}
	return ls
}

// deadLetter puts ls in the DLQ.
func (w *world) deadLetter(ls ...letter) {
	w.t.Helper()
	entries := make([]types.SendMessageBatchRequestEntry, len(ls))
	for i, l := range ls {
		entries[i] = types.SendMessageBatchRequestEntry{MessageBody: aws.String(l.body), MessageAttributes: l.attributes()}
	}
	testenv.SendMessages(w.t.Context(), w.t, w.client, w.q.DeadLetterURL, entries)
}

// redrive makes SQS move a message with body to the DLQ by its redrive
// policy, as after a handler's transient failures: the queue must have
// maxReceiveCount 1. The message keeps only its body.
func (w *world) redrive(body string) {
	w.t.Helper()
	ctx := w.t.Context()
	if _, err := w.client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(w.q.URL), MessageBody: aws.String(body)}); err != nil {
		w.t.Fatal(err)
	}
	m := testenv.ReceiveAll(ctx, w.t, w.client, w.q.URL, 1, 10*time.Second)[0]
	if _, err := w.client.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: aws.String(w.q.URL), ReceiptHandle: m.ReceiptHandle}); err != nil {
		w.t.Fatal(err)
	}
	// The second receive finds it past maxReceiveCount and moves it.
	out, err := w.client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(w.q.URL), WaitTimeSeconds: 1})
	if err != nil || len(out.Messages) != 0 {
		w.t.Fatalf("second receive: %v, %d messages; want the message moved to the DLQ", err, len(out.Messages))
	}
}

// all receives the n messages of queue url, keyed by job_id (or
// MessageId when there is none), and fails the test unless they are all
// visible at once: within 5 s, far less than the hold of a read (15 s) or
// a replay (30 s and more). The queue holds them for its visibility
// timeout.
func (w *world) all(url string, n int) map[string]types.Message {
	w.t.Helper()
	byID := make(map[string]types.Message, n)
	for _, m := range testenv.ReceiveAll(w.t.Context(), w.t, w.client, url, n, 5*time.Second) {
		id := testenv.Attr(m, jobs.AttrJobID)
		if id == "" {
			id = aws.ToString(m.MessageId)
		}
		byID[id] = m
	}
	return byID
}

// empty fails the test unless queue url holds no visible message.
func (w *world) empty(url string) {
	w.t.Helper()
	out, err := w.client.ReceiveMessage(w.t.Context(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), WaitTimeSeconds: 1, MaxNumberOfMessages: 10})
	if err != nil {
		w.t.Fatal(err)
	}
	if len(out.Messages) > 0 {
		w.t.Fatalf("%s holds %d messages (first %q), want none", url, len(out.Messages), aws.ToString(out.Messages[0].Body))
	}
}

// ctx returns a context for one call of the package under test.
func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(t.Context(), time.Minute)
	t.Cleanup(cancel)
	return c
}
