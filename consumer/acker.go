package consumer

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// SQS takes at most 10 entries in one batch call.
const maxBatch = 10

const (
	// flushAfter bounds how long a settled job waits for its batch to fill.
	flushAfter = 100 * time.Millisecond
	// batchAttempts is how often an entry a batch call failed is sent.
	batchAttempts = 3
	// callTimeout bounds one SQS call made on behalf of settled jobs. It is
	// not tied to Run's context: deletes must go out during shutdown too.
	callTimeout = 10 * time.Second
)

// ack is one entry of a batched delete or visibility change. done is called
// once, from the batcher, with nil when SQS confirmed the entry.
type ack struct {
	handle     string
	visibility int32 // seconds; visibility changes only
	done       func(error)
}

// entryError is a batch entry SQS reported as failed.
type entryError struct {
	index       int
	code, msg   string
	senderFault bool
}

// sendBatch makes one batch call for acks and returns the entries SQS
// reported as failed. An error means the call as a whole failed.
type sendBatch func(ctx context.Context, acks []ack) ([]entryError, error)

// batcher gathers acks into batch calls of up to 10: it sends a batch as
// soon as it is full, or flushAfter after its first entry otherwise, with up
// to parallel calls in flight. Entries a call reports as failed are sent
// again by receipt handle, up to batchAttempts times, unless SQS says the
// fault is the sender's (a receipt handle that is no longer valid); what
// still fails reaches its done func with the error. Nothing is dropped.
type batcher struct {
	op    string // operation name, for errors
	send  sendBatch
	in    chan ack
	calls chan struct{} // one token per call in flight
	wg    sync.WaitGroup
	log   *slog.Logger
}

func newBatcher(op string, send sendBatch, parallel int, log *slog.Logger) *batcher {
	return &batcher{
		op:    op,
		send:  send,
		in:    make(chan ack, maxBatch*parallel),
		calls: make(chan struct{}, parallel),
		log:   log,
	}
}

// add queues a. It must not be called after close.
func (b *batcher) add(a ack) { b.in <- a }

// close sends what is queued and returns when every call has finished.
func (b *batcher) close() { close(b.in) }

// run gathers acks until close, then flushes and waits for its calls.
func (b *batcher) run() {
	var (
		batch []ack
		timer = time.NewTimer(flushAfter)
		tick  <-chan time.Time
	)
	timer.Stop()
	flush := func() {
		if len(batch) > 0 {
			b.dispatch(batch)
			batch = nil
		}
		timer.Stop()
		tick = nil
	}
	for {
		select {
		case a, ok := <-b.in:
			if !ok {
				flush()
				b.wg.Wait()
				return
			}
			batch = append(batch, a)
			if len(batch) == 1 {
				timer.Reset(flushAfter)
				tick = timer.C
			}
			if len(batch) == maxBatch {
				flush()
			}
		case <-tick:
			flush()
		}
	}
}

func (b *batcher) dispatch(batch []ack) {
	b.calls <- struct{}{}
	b.wg.Add(1)
	go func() {
		defer func() { <-b.calls; b.wg.Done() }()
		b.deliver(batch)
	}()
}

// deliver sends batch, retrying failed entries, and calls every done func.
func (b *batcher) deliver(batch []ack) {
	for attempt := 1; len(batch) > 0; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
		failed, err := b.send(ctx, batch)
		cancel()
		if err != nil {
			failed = make([]entryError, len(batch))
			for i := range batch {
				failed[i] = entryError{index: i, msg: err.Error()}
			}
		}
		failedAt := make(map[int]entryError, len(failed))
		for _, f := range failed {
			failedAt[f.index] = f
		}
		var retry []ack
		for i, a := range batch {
			f, bad := failedAt[i]
			switch {
			case !bad:
				a.done(nil)
			case f.senderFault || attempt == batchAttempts:
				a.done(fmt.Errorf("%s: %s %s", b.op, f.code, f.msg))
			default:
				retry = append(retry, a)
			}
		}
		if len(retry) > 0 {
			b.log.Warn("sqs batch entries failed; retrying them", "operation", b.op,
				"failed", len(retry), "attempt", attempt)
			time.Sleep(time.Duration(attempt) * 100 * time.Millisecond)
		}
		batch = retry
	}
}

// batchFailures maps a batch response's Failed entries to entry indexes.
func batchFailures(failed []types.BatchResultErrorEntry, n int) []entryError {
	out := make([]entryError, 0, len(failed))
	for _, f := range failed {
		i, err := strconv.Atoi(aws.ToString(f.Id))
		if err != nil || i < 0 || i >= n {
			continue // not an id we sent; SQS never does this
		}
		out = append(out, entryError{index: i, code: aws.ToString(f.Code), msg: aws.ToString(f.Message), senderFault: f.SenderFault})
	}
	return out
}

func deleteBatch(client SQSAPI, queueURL string) sendBatch {
	return func(ctx context.Context, acks []ack) ([]entryError, error) {
		entries := make([]types.DeleteMessageBatchRequestEntry, len(acks))
		for i, a := range acks {
			entries[i] = types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: aws.String(a.handle)}
		}
		out, err := client.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(queueURL), Entries: entries})
		if err != nil {
			return nil, err
		}
		return batchFailures(out.Failed, len(acks)), nil
	}
}

func visibilityBatch(client SQSAPI, queueURL string) sendBatch {
	return func(ctx context.Context, acks []ack) ([]entryError, error) {
		entries := make([]types.ChangeMessageVisibilityBatchRequestEntry, len(acks))
		for i, a := range acks {
			entries[i] = types.ChangeMessageVisibilityBatchRequestEntry{
				Id: aws.String(strconv.Itoa(i)), ReceiptHandle: aws.String(a.handle), VisibilityTimeout: a.visibility,
			}
		}
		out, err := client.ChangeMessageVisibilityBatch(ctx, &sqs.ChangeMessageVisibilityBatchInput{QueueUrl: aws.String(queueURL), Entries: entries})
		if err != nil {
			return nil, err
		}
		return batchFailures(out.Failed, len(acks)), nil
	}
}
