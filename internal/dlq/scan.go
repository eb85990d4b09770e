package dlq

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

const (
	// maxBatch is the most entries one SQS batch call, or one receive, takes.
	maxBatch = 10
	// readHold is the visibility timeout of a read: how long a message
	// stays hidden if the reader dies before it releases it.
	readHold = 15 * time.Second
	// maxIdleReceives ends a scan after that many receives in a row that
	// bring only messages already seen.
	maxIdleReceives = 3
	// callTimeout bounds the calls that release, send or delete messages
	// held, which are made even once the caller's context has ended.
	callTimeout = 5 * time.Second
	// maxAttempts bounds the calls made for one batch entry.
	maxAttempts = 3
	// maxHold is SQS's longest visibility timeout.
	maxHold = 12 * time.Hour
)

// scanner receives the messages of the dead-letter queue, each once.
type scanner struct {
	q      *Queue
	seen   map[string]bool
	expect int // messages in the queue when the scan began
	idle   int
	done   bool
	// unreleased counts messages whose release failed: they stay hidden
	// for the rest of their hold.
	unreleased int
}

// newScanner starts a scan, reading how many messages the dead-letter
// queue holds, and returns what it read with it.
func (q *Queue) newScanner(ctx context.Context) (*scanner, queueAttrs, error) {
	attrs, err := q.deadLetterAttributes(ctx)
	if err != nil {
		return nil, attrs, err
	}
	return &scanner{q: q, seen: make(map[string]bool), expect: attrs.count}, attrs, nil
}

// next returns up to n messages not returned before, received with a
// visibility timeout of hold; the caller releases, or deletes, each. It
// returns none once the scan is over.
func (s *scanner) next(ctx context.Context, n int, hold time.Duration) ([]types.Message, error) {
	for !s.done {
		if len(s.seen) > 0 && len(s.seen) >= s.expect {
			s.done = true // all it held when the scan began: receiving more would only add receives
			break
		}
		out, err := s.q.client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl:                    aws.String(s.q.DeadLetterURL),
			MaxNumberOfMessages:         int32(min(n, maxBatch)),
			VisibilityTimeout:           int32(min(hold, maxHold).Round(time.Second) / time.Second),
			WaitTimeSeconds:             1,
			MessageAttributeNames:       []string{"All"},
			MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll},
		})
		if err != nil {
			return nil, fmt.Errorf("receive from %s: %w", s.q.DeadLetterName, err)
		}
		if len(out.Messages) == 0 {
			s.done = true
			break
		}
		var fresh, again []types.Message
		for _, m := range out.Messages {
			if id := aws.ToString(m.MessageId); s.seen[id] {
				again = append(again, m)
			} else {
				s.seen[id] = true
				fresh = append(fresh, m)
			}
		}
		s.release(again)
		if len(fresh) > 0 {
			s.idle = 0
			return fresh, nil
		}
		s.idle++
		s.done = s.idle >= maxIdleReceives
	}
	return nil, nil
}

// release makes msgs visible again at once, even once ctx has ended.
func (s *scanner) release(msgs []types.Message) {
	s.unreleased += len(s.q.release(msgs))
}

// release makes msgs visible at once and returns those SQS did not release.
func (q *Queue) release(msgs []types.Message) []Failure {
	return settle(msgs, fixedBatches, func(ctx context.Context, batch []types.Message) []error {
		in := &sqs.ChangeMessageVisibilityBatchInput{QueueUrl: aws.String(q.DeadLetterURL)}
		for i, m := range batch {
			// The SDK writes a batch entry's VisibilityTimeout even when 0.
			in.Entries = append(in.Entries, types.ChangeMessageVisibilityBatchRequestEntry{
				Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0,
			})
		}
		out, err := q.client.ChangeMessageVisibilityBatch(ctx, in)
		if err != nil {
			return fill(len(batch), fmt.Errorf("release: %w", err))
		}
		return entryErrors(len(batch), successIDs(out.Successful, func(e types.ChangeMessageVisibilityBatchResultEntry) *string { return e.Id }), out.Failed)
	})
}

// delete deletes msgs from the dead-letter queue and returns those SQS did
// not delete.
func (q *Queue) delete(msgs []types.Message) []Failure {
	return settle(msgs, fixedBatches, func(ctx context.Context, batch []types.Message) []error {
		in := &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(q.DeadLetterURL)}
		for i, m := range batch {
			in.Entries = append(in.Entries, types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle})
		}
		out, err := q.client.DeleteMessageBatch(ctx, in)
		if err != nil {
			return fill(len(batch), fmt.Errorf("delete: %w", err))
		}
		return entryErrors(len(batch), successIDs(out.Successful, func(e types.DeleteMessageBatchResultEntry) *string { return e.Id }), out.Failed)
	})
}

// Failure is a message that a batch call did not settle.
type Failure struct {
	// Letter is the message.
	Letter *Letter
	// Err is the last error SQS gave for it.
	Err error
}

// settle calls call on msgs in the batches plan makes, then again on the
// entries that failed, up to maxAttempts calls for each message, and
// returns those that failed every time. Each call gets callTimeout; the
// calls are made even once the caller's context has ended, so that what
// is held is settled.
func settle(msgs []types.Message, plan func([]types.Message) [][]types.Message, call func(context.Context, []types.Message) []error) []Failure {
	var failed []Failure
	for attempt := 1; len(msgs) > 0; attempt++ {
		if attempt > 1 {
			time.Sleep(time.Duration(attempt-1) * 200 * time.Millisecond) // a short backoff between retries of an SQS call
		}
		var retry []types.Message
		failed = failed[:0]
		for _, batch := range plan(msgs) {
			ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
			errs := call(ctx, batch)
			cancel()
			for i, err := range errs {
				if err != nil {
					retry = append(retry, batch[i])
					failed = append(failed, Failure{Letter: newLetter(batch[i]), Err: err})
				}
			}
		}
		if attempt == maxAttempts {
			break
		}
		msgs = retry
	}
	return failed
}

// fixedBatches splits msgs into batches of maxBatch.
func fixedBatches(msgs []types.Message) [][]types.Message {
	var out [][]types.Message
	for len(msgs) > maxBatch {
		out = append(out, msgs[:maxBatch])
		msgs = msgs[maxBatch:]
	}
	return append(out, msgs)
}

func fill(n int, err error) []error {
	errs := make([]error, n)
	for i := range errs {
		errs[i] = err
	}
	return errs
}

func successIDs[E any](entries []E, id func(E) *string) []*string {
	ids := make([]*string, len(entries))
	for i, e := range entries {
		ids[i] = id(e)
	}
	return ids
}

// entryErrors turns a batch reply into one error per entry of a batch of
// n whose entry ids are their indexes: nil for a successful entry, the
// code and message of a failed one (a failed entry wins over a successful
// one), errNotListed for one the reply does not list.
func entryErrors(n int, successful []*string, failed []types.BatchResultErrorEntry) []error {
	errs := fill(n, errNotListed)
	for _, id := range successful {
		if i, ok := entryIndex(id, n); ok {
			errs[i] = nil
		}
	}
	for _, f := range failed {
		if i, ok := entryIndex(f.Id, n); ok {
			errs[i] = fmt.Errorf("%s: %s", aws.ToString(f.Code), aws.ToString(f.Message))
		}
	}
	return errs
}

func entryIndex(id *string, n int) (int, bool) {
	i, err := strconv.Atoi(aws.ToString(id))
	return i, err == nil && i >= 0 && i < n
}
