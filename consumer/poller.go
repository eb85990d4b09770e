package consumer

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/busywork/busywork/jobs"
)

// receiveMargin is how long a receive may take past its long-poll wait.
const receiveMargin = 5 * time.Second

// poller starts a lane's receives: as many in flight as its flow window
// asks for, each for a batch the lane has room to hold. Receives run in
// goroutines of their own, which queue what they bring for the workers.
type poller struct {
	l *lane
	// held counts the messages received, or asked for by a receive in
	// flight, whose handlers have not returned yet.
	held atomic.Int64
	// inFlight counts the receives in flight.
	inFlight atomic.Int64
	// kick wakes the poller when room may have been made.
	kick chan struct{}
	// failures counts receives that failed in a row.
	failures atomic.Int64
	calls    sync.WaitGroup
}

func newPoller(l *lane) *poller {
	return &poller{l: l, kick: make(chan struct{}, 1)}
}

// wake asks the poller to look for room again.
func (p *poller) wake() {
	select {
	case p.kick <- struct{}{}:
	default:
	}
}

// release returns room for n messages whose handlers returned.
func (p *poller) release(n int) {
	p.held.Add(int64(-n))
	p.wake()
}

// run starts receives until ctx ends. Their calls run under receives,
// which a shutdown cancels only when the drain timeout ends: a receive in
// flight when ctx ends is let finish, and what it brings is handled like
// the rest, so nothing is stranded invisible (aws-sdk-go-v2 issue 2068:
// SQS answers a long poll whose client has gone away, and the messages
// it returns stay invisible for their first lease).
func (p *poller) run(ctx, receives context.Context) {
	l := p.l
	batch := int64(min(maxBatch, l.cfg.Concurrency))
	for {
		w := windowsFor(l.cfg, l.flow.pace())
		most := int64(w.receives)
		if p.failures.Load() > 0 {
			most = 1 // one receive probes until SQS answers again
		}
		room := int64(l.cfg.Concurrency+w.ahead) - p.held.Load()
		for p.inFlight.Load() < most && room >= batch {
			n := min(room, maxBatch)
			room -= n
			p.held.Add(n)
			p.inFlight.Add(1)
			p.calls.Add(1)
			go p.receive(receives, int(n))
		}
		select {
		case <-p.kick:
		case <-ctx.Done():
			return
		}
	}
}

// receive makes one receive of up to n messages and queues what it
// brings; after a failure it waits a backoff before it gives its room
// back.
func (p *poller) receive(ctx context.Context, n int) {
	defer p.calls.Done()
	defer p.wake()
	defer p.inFlight.Add(-1)
	l := p.l
	sent := l.c.now()
	msgs, err := l.receive(ctx, n)
	returned := l.c.now()
	p.held.Add(int64(len(msgs) - n))
	if err != nil {
		if ctx.Err() != nil {
			return // cancelled by the shutdown
		}
		failures := p.failures.Add(1)
		wait := Backoff(int(failures), time.Second, 30*time.Second, nil)
		l.log.Error("receive failed", "error", err, "retry_in_ms", wait.Milliseconds())
		select {
		case <-time.After(wait):
		case <-ctx.Done():
		}
		return
	}
	p.failures.Store(0)
	if len(msgs) > 0 {
		l.flow.roundTrip(receiveCall, returned.Sub(sent))
	}
	for _, msg := range msgs {
		l.ready <- l.track(msg, sent, returned)
	}
}

// receivedSystemAttributes are the system attributes a receive asks for:
// the receive count, the fair-queue group, when SQS accepted the message,
// and an X-Ray trace header.
var receivedSystemAttributes = []types.MessageSystemAttributeName{
	types.MessageSystemAttributeNameApproximateReceiveCount, types.MessageSystemAttributeNameMessageGroupId,
	types.MessageSystemAttributeNameSentTimestamp, types.MessageSystemAttributeNameAWSTraceHeader,
}

func (l *lane) receive(ctx context.Context, n int) ([]types.Message, error) {
	ctx, cancel := context.WithTimeout(ctx, l.c.cfg.WaitTime+receiveMargin)
	defer cancel()
	out, err := l.c.client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl:                    aws.String(l.url),
		MaxNumberOfMessages:         int32(n),
		WaitTimeSeconds:             int32(l.c.cfg.WaitTime / time.Second),
		VisibilityTimeout:           visibilitySeconds(l.firstLease),
		MessageAttributeNames:       []string{"All"},
		MessageSystemAttributeNames: receivedSystemAttributes,
	})
	if err != nil {
		return nil, err
	}
	return out.Messages, nil
}

// track starts the heartbeat of msg, received by a call sent at sent that
// answered at returned. Its first lease runs from returned: SQS starts a
// message's visibility timeout when it returns the message, which in a
// long poll can be up to the whole wait after the call was sent (the
// heartbeat renews half a first lease ahead, which covers the answer's
// trip back). SQS's 12 hours run from no later than sent.
func (l *lane) track(msg types.Message, sent, returned time.Time) *message {
	m := &message{
		msg:      msg,
		received: sent,
		expires:  returned.Add(l.firstLease),
		until:    sent.Add(maxVisibility),
	}
	m.delivery = Delivery{
		ID:              aws.ToString(msg.MessageId),
		Lane:            l.name,
		Queue:           l.url[strings.LastIndexByte(l.url, '/')+1:],
		MessageID:       aws.ToString(msg.MessageId),
		GroupID:         attr(msg, jobs.AttrGroupID),
		TraceParent:     attr(msg, jobs.AttrTraceParent),
		AWSTraceHeader:  msg.Attributes[string(types.MessageSystemAttributeNameAWSTraceHeader)],
		MaxReceiveCount: l.maxReceives,
		HungGrace:       l.c.cfg.HungGrace,
	}
	if ms, err := strconv.ParseInt(msg.Attributes[string(types.MessageSystemAttributeNameSentTimestamp)], 10, 64); err == nil {
		m.delivery.SentAt = time.UnixMilli(ms)
	}
	if id := attr(msg, jobs.AttrJobID); id != "" {
		m.delivery.ID = id
	}
	if due, err := time.Parse(time.RFC3339Nano, attr(msg, jobs.AttrDueAt)); err == nil {
		m.delivery.DueAt = due
	}
	m.delivery.ReceiveCount, _ = strconv.Atoi(msg.Attributes[string(types.MessageSystemAttributeNameApproximateReceiveCount)])
	m.delivery.Attempt = attemptsBefore(msg) + m.delivery.ReceiveCount
	m.delivery.Type, m.malformed = jobs.PeekType([]byte(aws.ToString(msg.Body)))
	l.held.add()
	l.beat.track(m)
	l.c.cfg.Metrics.InFlight(l.name, 1)
	return m
}

func attr(msg types.Message, name string) string {
	return aws.ToString(msg.MessageAttributes[name].StringValue)
}
