package consumer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/busywork/busywork/internal/redrive"
)

// lane serves one queue: its pollers, handler slots, heartbeat and batched
// settling calls.
type lane struct {
	c      *Consumer
	name   string
	url    string
	dlqURL string
	cfg    QueueConfig
	// maxReceives is the redrive policy's maxReceiveCount; 0 if unknown.
	maxReceives int
	lease       time.Duration
	firstLease  time.Duration
	callTimeout time.Duration // settling calls

	flow    *flow
	poll    *poller
	ready   chan *message // received, waiting for a worker
	deletes *batcher      // at most the unconfirmed window's entries
	changes *batcher
	beat    *heartbeat
	held    *pending // messages received and not yet settled with SQS
	workers *pending // workers not yet returned
	// draining is closed when the drain timeout has passed: workers then
	// release what they take from ready instead of running it.
	draining chan struct{}
	// handling counts the handlers running now.
	handling atomic.Int64
	// unconfirmed counts settling calls SQS did not confirm.
	unconfirmed atomic.Int64
	log         *slog.Logger
}

// newLane reads the queue's attributes: its visibility timeout (the default
// lease) and its redrive policy (where permanent failures go).
func (c *Consumer) newLane(ctx context.Context, stop context.Context, q QueueConfig) (*lane, error) {
	name := q.Name
	queue := fmt.Sprintf("%s (lane %s)", q.URL[strings.LastIndexByte(q.URL, '/')+1:], name)
	out, err := c.client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl:       aws.String(q.URL),
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameVisibilityTimeout, types.QueueAttributeNameRedrivePolicy},
	})
	if err != nil {
		return nil, fmt.Errorf("consumer: queue %s: %w", queue, err)
	}
	lease := q.Lease
	if lease == 0 {
		secs, err := strconv.Atoi(out.Attributes[string(types.QueueAttributeNameVisibilityTimeout)])
		if err != nil {
			return nil, fmt.Errorf("consumer: queue %s: visibility timeout: %w", queue, err)
		}
		lease = max(time.Duration(secs)*time.Second, MinLease)
	}
	policy, err := redrive.Parse(out.Attributes[string(types.QueueAttributeNameRedrivePolicy)])
	switch {
	case q.DeadLetterURL != "":
	case errors.Is(err, redrive.ErrNoPolicy):
		return nil, fmt.Errorf("consumer: queue %s: no redrive policy, so no dead-letter queue for permanent failures (run `busywork bootstrap`, or set the DLQ URL)", queue)
	case err != nil:
		return nil, fmt.Errorf("consumer: queue %s: %w", queue, err)
	}
	dlqURL := q.DeadLetterURL
	if dlqURL == "" {
		if dlqURL, err = redrive.QueueURL(ctx, c.client, policy.DeadLetterTargetARN); err != nil {
			return nil, fmt.Errorf("consumer: queue %s: dead-letter queue: %w", queue, err)
		}
	}
	l := &lane{
		c:           c,
		name:        name,
		url:         q.URL,
		dlqURL:      dlqURL,
		cfg:         q,
		maxReceives: policy.MaxReceiveCount,
		lease:       lease,
		firstLease:  min(lease, FirstLease),
		callTimeout: min(maxCallTimeout, lease*3/4),
		flow:        newFlow(c.now, q.Concurrency),
		ready:       make(chan *message, q.Concurrency+maxBatch*q.MaxReceives),
		held:        newPending(),
		workers:     newPending(),
		draining:    make(chan struct{}),
		log:         c.cfg.Logger.With("lane", name),
	}
	l.poll = newPoller(l)
	window := func() windows { return windowsFor(q, l.flow.pace()) }
	l.deletes = newBatcher(stop, "DeleteMessageBatch", l.timed(deleteBatch(c.client, q.URL)), l.callTimeout, l.log)
	l.deletes.window = func() (calls, limit int) {
		w := window()
		return (w.unconfirmed+maxBatch-1)/maxBatch + 1, w.unconfirmed
	}
	l.deletes.busy, l.deletes.linger = func() bool { return l.handling.Load() > 0 }, deleteLinger
	l.changes = newBatcher(stop, "ChangeMessageVisibilityBatch", l.timed(visibilityBatch(c.client, q.URL)), l.callTimeout, l.log)
	l.changes.window = func() (calls, limit int) { return window().receives, 0 }
	l.beat = newHeartbeat(l)
	return l, nil
}

// deleteLinger is the longest a partial batch of deletes waits for the
// lane's running handlers to add to it. Slots do not wait for deletes, so
// it costs no throughput, only a little time before SQS confirms.
const deleteLinger = 50 * time.Millisecond

// timed records the round trip of every call of send that SQS answered.
func (l *lane) timed(send sendBatch) sendBatch {
	return func(ctx context.Context, acks []ack) ([]entryError, error) {
		start := l.c.now()
		failed, err := send(ctx, acks)
		if err == nil {
			l.flow.roundTrip(settleCall, l.c.now().Sub(start))
		}
		return failed, err
	}
}

// remaining returns how long m may still stay invisible: what is left of
// SQS's 12 hours since its receive, in whole seconds.
func (l *lane) remaining(m *message) time.Duration {
	left := m.received.Add(maxVisibility).Sub(l.c.now())
	return max(left.Truncate(time.Second), 0)
}

// visibility returns the visibility timeout, in seconds, that sets m
// invisible for d: rounded up to whole seconds, but never past what is left
// of its 12 hours, which SQS would refuse.
func (l *lane) visibility(m *message, d time.Duration) int32 {
	return min(visibilitySeconds(d), visibilitySeconds(l.remaining(m)))
}

func receiptHandle(m *message) string { return aws.ToString(m.msg.ReceiptHandle) }
