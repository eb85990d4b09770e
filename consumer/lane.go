package consumer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// lane serves one queue: its pollers, slots, heartbeat and batched
// settling calls.
type lane struct {
	c        *Consumer
	name     string
	url      string
	dlqURL   string
	cfg      QueueConfig
	lease    time.Duration
	slots    *slots
	deletes  *batcher
	changes  *batcher
	beat     *heartbeat
	unsettle *pending // messages received and not yet settled with SQS
	running  *pending // goroutines running handlers
	log      *slog.Logger
}

// newLane reads the queue's attributes: its visibility timeout (the default
// lease) and its redrive policy (where permanent failures go).
func (c *Consumer) newLane(ctx context.Context, q QueueConfig) (*lane, error) {
	name := q.URL[strings.LastIndexByte(q.URL, '/')+1:]
	out, err := c.client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl:       aws.String(q.URL),
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameVisibilityTimeout, types.QueueAttributeNameRedrivePolicy},
	})
	if err != nil {
		return nil, fmt.Errorf("consumer: queue %s: %w", name, err)
	}
	lease := q.Lease
	if lease == 0 {
		secs, err := strconv.Atoi(out.Attributes[string(types.QueueAttributeNameVisibilityTimeout)])
		if err != nil {
			return nil, fmt.Errorf("consumer: queue %s: visibility timeout: %w", name, err)
		}
		lease = max(time.Duration(secs)*time.Second, minLease)
	}
	dlqURL := q.DeadLetterURL
	if dlqURL == "" {
		dlqURL, err = c.deadLetterURL(ctx, out.Attributes[string(types.QueueAttributeNameRedrivePolicy)])
		if err != nil {
			return nil, fmt.Errorf("consumer: queue %s: %w", name, err)
		}
	}
	l := &lane{
		c:        c,
		name:     name,
		url:      q.URL,
		dlqURL:   dlqURL,
		cfg:      q,
		lease:    lease,
		slots:    newSlots(q.Concurrency),
		unsettle: newPending(),
		running:  newPending(),
		log:      c.cfg.Logger.With("queue", name),
	}
	parallel := max(2, q.Pollers)
	l.deletes = newBatcher("DeleteMessageBatch", deleteBatch(c.client, q.URL), parallel, l.log)
	l.changes = newBatcher("ChangeMessageVisibilityBatch", visibilityBatch(c.client, q.URL), parallel, l.log)
	l.beat = newHeartbeat(l)
	return l, nil
}

// deadLetterURL finds the DLQ named by a queue's RedrivePolicy.
func (c *Consumer) deadLetterURL(ctx context.Context, policy string) (string, error) {
	if policy == "" {
		return "", errors.New("no redrive policy, so no dead-letter queue for permanent failures (run `busywork bootstrap`, or set the DLQ URL)")
	}
	var p struct {
		TargetARN string `json:"deadLetterTargetArn"`
	}
	if err := json.Unmarshal([]byte(policy), &p); err != nil {
		return "", fmt.Errorf("redrive policy %q: %w", policy, err)
	}
	// arn:aws:sqs:REGION:ACCOUNT:NAME
	parts := strings.Split(p.TargetARN, ":")
	if len(parts) != 6 || parts[2] != "sqs" {
		return "", fmt.Errorf("redrive policy: %q is not an SQS queue ARN", p.TargetARN)
	}
	out, err := c.client.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(parts[5]), QueueOwnerAWSAccountId: aws.String(parts[4])})
	if err != nil {
		return "", fmt.Errorf("dead-letter queue %s: %w", parts[5], err)
	}
	return aws.ToString(out.QueueUrl), nil
}

// poll receives messages while ctx lasts, never more than there are free
// slots, and starts a handler for each. A receive in flight when ctx ends is
// let finish, and what it brings is handled, so no message is stranded
// invisible (aws-sdk-go-v2 issue 2068).
func (l *lane) poll(ctx, jobsCtx context.Context) {
	failures := 0
	for ctx.Err() == nil {
		n, err := l.slots.acquire(ctx, maxBatch)
		if err != nil {
			return
		}
		msgs, err := l.receive(context.WithoutCancel(ctx), n)
		l.slots.release(n - len(msgs))
		if err != nil {
			failures++
			wait := Backoff(failures, time.Second, 30*time.Second, nil)
			l.log.Error("receive failed", "error", err, "retry_in_ms", wait.Milliseconds())
			select {
			case <-time.After(wait):
			case <-ctx.Done():
				return
			}
			continue
		}
		failures = 0
		for _, msg := range msgs {
			l.start(jobsCtx, msg)
		}
	}
}

func (l *lane) receive(ctx context.Context, n int) ([]types.Message, error) {
	ctx, cancel := context.WithTimeout(ctx, l.c.cfg.WaitTime+callTimeout)
	defer cancel()
	out, err := l.c.client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl:                    aws.String(l.url),
		MaxNumberOfMessages:         int32(n),
		WaitTimeSeconds:             int32(l.c.cfg.WaitTime / time.Second),
		VisibilityTimeout:           visibilitySeconds(l.lease),
		MessageAttributeNames:       []string{"All"},
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameApproximateReceiveCount},
	})
	if err != nil {
		return nil, err
	}
	return out.Messages, nil
}
