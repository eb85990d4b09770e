package consumer

import (
	"context"
	"encoding/json"
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
	batch       int           // messages one receive asks for

	// credits bounds the messages held between receive and the return of
	// their handler: Concurrency running plus what pollers received ahead.
	credits *slots
	ready   chan *message // received, waiting for a worker
	deletes *batcher      // at most MaxUnconfirmed entries
	changes *batcher
	beat    *heartbeat
	held    *pending // messages received and not yet settled with SQS
	workers *pending // workers not yet returned
	// draining is closed when the drain timeout has passed: workers then
	// release what they take from ready instead of running it.
	draining chan struct{}
	// undead remembers messages whose copy to the DLQ failed, so that they
	// wait for redrive instead of reaching their handler again.
	undead *undeadSet
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
	policy, err := parseRedrivePolicy(out.Attributes[string(types.QueueAttributeNameRedrivePolicy)])
	if err != nil && q.DeadLetterURL == "" {
		return nil, fmt.Errorf("consumer: queue %s: %w", queue, err)
	}
	dlqURL := q.DeadLetterURL
	if dlqURL == "" {
		if dlqURL, err = c.queueURL(ctx, policy.target); err != nil {
			return nil, fmt.Errorf("consumer: queue %s: dead-letter queue: %w", queue, err)
		}
	}
	ahead := min(maxBatch*q.Pollers, q.Concurrency)
	l := &lane{
		c:           c,
		name:        name,
		url:         q.URL,
		dlqURL:      dlqURL,
		cfg:         q,
		maxReceives: policy.maxReceiveCount,
		lease:       lease,
		firstLease:  min(lease, FirstLease),
		callTimeout: min(maxCallTimeout, lease*3/4),
		batch:       min(maxBatch, ahead),
		credits:     newSlots(q.Concurrency + ahead),
		ready:       make(chan *message, q.Concurrency+ahead),
		held:        newPending(),
		workers:     newPending(),
		draining:    make(chan struct{}),
		undead:      newUndeadSet(),
		log:         c.cfg.Logger.With("lane", name),
	}
	l.deletes = newBatcher(stop, "DeleteMessageBatch", deleteBatch(c.client, q.URL), settleCalls(q), q.MaxUnconfirmed, l.callTimeout, l.log)
	l.deletes.busy, l.deletes.linger = func() bool { return l.handling.Load() > 0 }, deleteLinger
	l.changes = newBatcher(stop, "ChangeMessageVisibilityBatch", visibilityBatch(c.client, q.URL), settleCalls(q), 0, l.callTimeout, l.log)
	l.beat = newHeartbeat(l)
	return l, nil
}

// deleteLinger is the longest a partial batch of deletes waits for the
// lane's running handlers to add to it. Slots do not wait for deletes, so
// it costs no throughput, only a little time before SQS confirms.
const deleteLinger = 50 * time.Millisecond

// settleCalls is how many batch calls of one kind a lane keeps in flight.
func settleCalls(q QueueConfig) int { return max(2, q.Pollers) }

// redrivePolicy is the part of a queue's RedrivePolicy the consumer uses.
type redrivePolicy struct {
	target          string // the DLQ's ARN
	maxReceiveCount int
}

// parseRedrivePolicy reads a RedrivePolicy attribute. SQS writes
// maxReceiveCount as a number; some emulators keep the string they were
// given, so both are read.
func parseRedrivePolicy(s string) (redrivePolicy, error) {
	if s == "" {
		return redrivePolicy{}, errors.New("no redrive policy, so no dead-letter queue for permanent failures (run `busywork bootstrap`, or set the DLQ URL)")
	}
	var p struct {
		TargetARN string          `json:"deadLetterTargetArn"`
		Max       json.RawMessage `json:"maxReceiveCount"`
	}
	if err := json.Unmarshal([]byte(s), &p); err != nil {
		return redrivePolicy{}, fmt.Errorf("redrive policy %q: %w", s, err)
	}
	n, err := strconv.Atoi(strings.Trim(string(p.Max), `"`))
	if err != nil || n < 1 {
		return redrivePolicy{}, fmt.Errorf("redrive policy %q: maxReceiveCount is not a positive whole number", s)
	}
	return redrivePolicy{target: p.TargetARN, maxReceiveCount: n}, nil
}

// queueURL looks up the URL of the queue with the given ARN.
func (c *Consumer) queueURL(ctx context.Context, arn string) (string, error) {
	// arn:aws:sqs:REGION:ACCOUNT:NAME
	parts := strings.Split(arn, ":")
	if len(parts) != 6 || parts[2] != "sqs" {
		return "", fmt.Errorf("%q is not an SQS queue ARN", arn)
	}
	out, err := c.client.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(parts[5]), QueueOwnerAWSAccountId: aws.String(parts[4])})
	if err != nil {
		return "", fmt.Errorf("%s: %w", parts[5], err)
	}
	return aws.ToString(out.QueueUrl), nil
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
