package consumer

import (
	"context"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/busywork/busywork/jobs"
)

// receiveMargin is how long a receive may take past its long-poll wait;
// never past the drain timeout, so that shutdown waits no longer for it.
const receiveMargin = 5 * time.Second

// poll receives messages while ctx lasts and queues them for the lane's
// workers. It asks for a batch only once the lane can hold all of it, so a
// receive never brings more than the lane has room for. A receive in
// flight when ctx ends is let finish, and what it brings is handled like
// the rest, so no message is stranded invisible (aws-sdk-go-v2 issue 2068).
func (l *lane) poll(ctx context.Context) {
	failures := 0
	for ctx.Err() == nil {
		if err := l.credits.acquire(ctx, l.batch); err != nil {
			return
		}
		sent := l.c.now()
		msgs, err := l.receive(context.WithoutCancel(ctx), l.batch)
		l.credits.release(l.batch - len(msgs))
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
			l.ready <- l.track(msg, sent)
		}
	}
}

func (l *lane) receive(ctx context.Context, n int) ([]types.Message, error) {
	ctx, cancel := context.WithTimeout(ctx, min(l.c.cfg.WaitTime+receiveMargin, l.c.cfg.DrainTimeout))
	defer cancel()
	out, err := l.c.client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl:                    aws.String(l.url),
		MaxNumberOfMessages:         int32(n),
		WaitTimeSeconds:             int32(l.c.cfg.WaitTime / time.Second),
		VisibilityTimeout:           visibilitySeconds(l.firstLease),
		MessageAttributeNames:       []string{"All"},
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameApproximateReceiveCount},
	})
	if err != nil {
		return nil, err
	}
	return out.Messages, nil
}

// track starts the heartbeat of msg, received by a call sent at sent.
func (l *lane) track(msg types.Message, sent time.Time) *message {
	m := &message{
		msg:      msg,
		received: sent,
		expires:  sent.Add(l.firstLease),
		until:    sent.Add(maxVisibility),
	}
	m.delivery = Delivery{
		ID:              aws.ToString(msg.MessageId),
		Lane:            l.name,
		MessageID:       aws.ToString(msg.MessageId),
		MaxReceiveCount: l.maxReceives,
		HungGrace:       l.c.cfg.HungGrace,
	}
	if id := attr(msg, jobs.AttrJobID); id != "" {
		m.delivery.ID = id
	}
	m.delivery.ReceiveCount, _ = strconv.Atoi(msg.Attributes[string(types.MessageSystemAttributeNameApproximateReceiveCount)])
	m.delivery.Type, m.malformed = jobs.PeekType([]byte(aws.ToString(msg.Body)))
	l.held.add()
	l.beat.track(m)
	l.c.cfg.Metrics.inFlightAdd(l.name, 1)
	return m
}

func attr(msg types.Message, name string) string {
	return aws.ToString(msg.MessageAttributes[name].StringValue)
}
