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
	// batchAttempts is how often an entry a batch call failed is sent.
	batchAttempts = 3
	// maxCallTimeout bounds one SQS call made on behalf of settled jobs.
	maxCallTimeout = 10 * time.Second
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

// batcher turns acks into batch calls of up to 10 with no fixed wait:
//
//   - a full batch goes out whenever fewer calls than the window allows
//     are in flight;
//   - a partial batch goes out when no call is in flight, unless entries
//     are about to join it: callers waiting for room (see limit), or, for
//     up to linger after its first entry, handlers of the lane still
//     running (busy). So an idle worker settles at once, and a busy one
//     fills its batches while calls are in flight or jobs are finishing.
//
// The window (calls in flight, and a limit of unconfirmed entries; 0 for
// none) is asked for each time: it follows the lane's flow. With a limit,
// add waits while limit entries are unconfirmed (queued or in flight), and
// a partial batch is held back while callers wait for room that a
// confirmation has just made, so a worker whose limit is what slows it
// still sends full batches.
//
// Entries a call reports as failed are sent again by receipt handle, up to
// batchAttempts times, unless SQS says the fault is the sender's (a receipt
// handle that is no longer valid); what still fails reaches its done func
// with the error. Nothing is dropped. A batcher starts no goroutine but its
// calls; close waits for them.
type batcher struct {
	op      string // operation name, for errors
	send    sendBatch
	timeout time.Duration
	log     *slog.Logger
	// stop ends the calls' retries and timeouts when shutdown runs out
	// of time.
	stop context.Context
	// window returns how many calls may be in flight and how many entries
	// may be unconfirmed (0: no limit).
	window func() (calls, limit int)
	// busy reports whether more entries are on their way (handlers still
	// running); nil means never. A partial batch waits for them up to
	// linger after its first entry.
	busy   func() bool
	linger time.Duration

	mu          sync.Mutex
	queued      []ack
	since       time.Time   // when the first queued entry came
	lingering   *time.Timer // dispatches when the linger ends
	inFlight    int
	unconfirmed int
	waiting     int           // adds waiting for room under the limit
	room        chan struct{} // closed and replaced when entries are confirmed
	closing     bool
	calls       *pending // calls in flight; entries may still come after close
}

// newBatcher returns a batcher of send's calls; its window, busy and
// linger are set by the caller (by default two calls, no limit).
func newBatcher(stop context.Context, op string, send sendBatch, timeout time.Duration, log *slog.Logger) *batcher {
	return &batcher{
		op: op, send: send, timeout: timeout, log: log, stop: stop,
		window: func() (int, int) { return 2, 0 },
		room:   make(chan struct{}),
		calls:  newPending(),
	}
}

// add queues a, waiting while the batcher holds limit unconfirmed entries.
// The wait ends when a call in flight is answered or times out. add may be
// called at any time, also during and after close.
func (b *batcher) add(a ack) {
	b.mu.Lock()
	for {
		if _, limit := b.window(); limit == 0 || b.unconfirmed < limit {
			break
		}
		b.waiting++
		room := b.room
		b.mu.Unlock()
		<-room
		b.mu.Lock()
		b.waiting--
	}
	b.unconfirmed++
	if len(b.queued) == 0 {
		b.since = time.Now()
	}
	b.queued = append(b.queued, a)
	b.dispatchLocked()
	b.mu.Unlock()
}

// flush sends what is queued, and from now on every entry at once, without
// holding partial batches back.
func (b *batcher) flush() {
	b.mu.Lock()
	b.closing = true
	b.dispatchLocked()
	b.mu.Unlock()
}

// close flushes and returns when every call has been answered, or an error
// when ctx ends first.
func (b *batcher) close(ctx context.Context) error {
	b.flush()
	if err := b.calls.wait(ctx); err != nil {
		return fmt.Errorf("%s: %d entries unconfirmed: %w", b.op, b.pending(), err)
	}
	return nil
}

// pending returns how many entries are queued or in flight.
func (b *batcher) pending() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.unconfirmed
}

// dispatchLocked starts the calls the rules above allow. b.mu is held.
func (b *batcher) dispatchLocked() {
	if len(b.queued) == 0 {
		return
	}
	parallel, limit := b.window()
	for len(b.queued) > 0 && b.inFlight < parallel {
		full := len(b.queued) >= maxBatch
		// Callers woken by a confirmation are about to join a partial
		// batch; callers still waiting will be woken by a call in flight.
		joining := b.waiting > 0 && (b.unconfirmed < limit || b.inFlight > 0)
		if !full && !b.closing && (b.inFlight > 0 || joining || b.lingerLocked()) {
			return
		}
		n := min(len(b.queued), maxBatch)
		batch := make([]ack, n)
		copy(batch, b.queued)
		b.queued = b.queued[n:]
		b.since = time.Now()
		if b.lingering != nil {
			b.lingering.Stop()
			b.lingering = nil
		}
		b.inFlight++
		b.calls.add()
		go b.deliver(batch)
	}
}

// lingerLocked reports whether a partial batch should wait for the
// lane's running handlers, and makes sure a timer ends the wait.
func (b *batcher) lingerLocked() bool {
	if b.busy == nil || !b.busy() {
		return false
	}
	left := b.linger - time.Since(b.since)
	if left <= 0 {
		return false
	}
	if b.lingering == nil {
		b.lingering = time.AfterFunc(left, func() {
			b.mu.Lock()
			b.lingering = nil
			b.dispatchLocked()
			b.mu.Unlock()
		})
	}
	return true
}

// deliver sends batch, retrying failed entries, and calls every done func.
func (b *batcher) deliver(batch []ack) {
	defer b.calls.done()
	n := len(batch)
	for attempt := 1; len(batch) > 0; attempt++ {
		batch = b.attempt(batch, attempt)
		if len(batch) > 0 {
			b.log.Warn("sqs batch entries failed; retrying them", "operation", b.op,
				"failed", len(batch), "attempt", attempt)
			select {
			case <-time.After(time.Duration(attempt) * 100 * time.Millisecond):
			case <-b.stop.Done():
			}
		}
	}
	b.mu.Lock()
	b.inFlight--
	b.unconfirmed -= n
	close(b.room)
	b.room = make(chan struct{})
	b.dispatchLocked()
	b.mu.Unlock()
}

// attempt makes one call for batch, calls the done funcs of the entries
// that are settled, and returns those to send again.
func (b *batcher) attempt(batch []ack, attempt int) []ack {
	ctx, cancel := context.WithTimeout(b.stop, b.timeout)
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
	last := attempt == batchAttempts || b.stop.Err() != nil
	for i, a := range batch {
		f, bad := failedAt[i]
		switch {
		case !bad:
			a.done(nil)
		case f.senderFault || last:
			a.done(fmt.Errorf("%s: %s %s", b.op, f.code, f.msg))
		default:
			retry = append(retry, a)
		}
	}
	return retry
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
