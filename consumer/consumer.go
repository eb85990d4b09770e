package consumer

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// SQSAPI is the part of *sqs.Client the consumer calls.
type SQSAPI interface {
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, optFns ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	DeleteMessageBatch(ctx context.Context, in *sqs.DeleteMessageBatchInput, optFns ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error)
	ChangeMessageVisibilityBatch(ctx context.Context, in *sqs.ChangeMessageVisibilityBatchInput, optFns ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityBatchOutput, error)
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
	GetQueueAttributes(ctx context.Context, in *sqs.GetQueueAttributesInput, optFns ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
	GetQueueUrl(ctx context.Context, in *sqs.GetQueueUrlInput, optFns ...func(*sqs.Options)) (*sqs.GetQueueUrlOutput, error)
}

// Consumer serves jobs from SQS queues to the handlers of a Mux.
type Consumer struct {
	client SQSAPI
	mux    *Mux
	cfg    Config
	slots  int          // all queues' concurrency, added up
	hung   atomic.Int64 // handlers running past their deadline and grace
	ran    atomic.Bool
	// now is the clock of all visibility arithmetic; tests move it.
	now func() time.Time
}

// New returns a Consumer that serves cfg.Queues to mux's handlers. It checks
// cfg and fills in its defaults; it makes no SQS call and starts nothing. A
// setting out of range is a *ConfigError naming its field.
func New(client SQSAPI, mux *Mux, cfg Config) (*Consumer, error) {
	if client == nil || mux == nil {
		return nil, errors.New("consumer: New needs an SQS client and a Mux")
	}
	if len(mux.routes) == 0 {
		return nil, errors.New("consumer: the Mux has no handlers")
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := cfg.checkRoutes(mux); err != nil {
		return nil, err
	}
	mux.build(cfg)
	c := &Consumer{client: client, mux: mux, cfg: cfg, now: time.Now}
	for _, q := range cfg.Queues {
		c.slots += q.Concurrency
	}
	return c, nil
}

// Run serves jobs until ctx ends, then shuts down (see shutdown) and
// returns within DrainTimeout + ShutdownMargin: nil, or an error when SQS
// did not confirm what became of some jobs (they will run again).
//
// Every goroutine Run starts has ended when it returns, except handlers
// that ignore their cancelled context: Go cannot stop a goroutine. Run
// returns an error without serving if a queue cannot be read or has no
// dead-letter queue, and nil if ctx ends before it serves. A Consumer runs
// once.
func (c *Consumer) Run(ctx context.Context) error {
	if c.ran.Swap(true) {
		return errors.New("consumer: Run called twice")
	}
	// Settling calls outlive ctx (deletes must go out during shutdown)
	// until the shutdown runs out of time.
	calls, stopCalls := context.WithCancel(context.Background())
	defer stopCalls()
	lanes := make([]*lane, len(c.cfg.Queues))
	for i, q := range c.cfg.Queues {
		l, err := c.newLane(ctx, calls, q)
		if err != nil {
			if ctx.Err() != nil {
				return nil // stopped before it served: nothing to drain
			}
			return err
		}
		lanes[i] = l
	}

	// Jobs keep ctx's values but not its cancellation: a shutdown gives them
	// the drain timeout rather than cancelling them at once.
	jobsCtx, cancelJobs := context.WithCancelCause(context.WithoutCancel(ctx))
	defer cancelJobs(nil)
	// Receives outlive ctx until the drain timeout, so that what they
	// bring is not stranded.
	receives, stopReceives := context.WithCancel(context.WithoutCancel(ctx))
	defer stopReceives()
	s := &stopping{lanes: lanes, cancelJobs: cancelJobs, stopCalls: stopCalls, stopReceives: stopReceives,
		stopBeats: make(chan struct{})}
	for _, l := range lanes {
		s.beats.Go(func() { l.beat.run(s.stopBeats) })
		for range l.cfg.Concurrency {
			l.workers.add()
			go l.work(jobsCtx)
		}
		s.pollers.Go(func() { l.poll.run(ctx, receives) })
		c.cfg.Metrics.Lane(l.name, l.flowNow)
		l.log.Info("serving queue", "concurrency", l.cfg.Concurrency, "max_receives", l.cfg.MaxReceives,
			"max_unconfirmed", l.cfg.MaxUnconfirmed, "lease_s", l.lease.Seconds(), "wait_s", c.cfg.WaitTime.Seconds(),
			"max_receive_count", l.maxReceives, "dead_letter_queue", l.dlqURL)
	}
	<-ctx.Done()
	return c.shutdown(s)
}

// stopping is what shutdown stops.
type stopping struct {
	lanes        []*lane
	pollers      sync.WaitGroup
	beats        sync.WaitGroup
	stopBeats    chan struct{}
	cancelJobs   context.CancelCauseFunc
	stopCalls    context.CancelFunc
	stopReceives context.CancelFunc
}

// Healthy returns an error when hung handlers hold more than
// UnhealthyHungShare of the consumer's slots: the task should be replaced.
func (c *Consumer) Healthy() error {
	hung := c.hung.Load()
	if float64(hung) > c.cfg.UnhealthyHungShare*float64(c.slots) {
		return fmt.Errorf("%d of %d job slots are held by hung handlers", hung, c.slots)
	}
	return nil
}

// typeLabel is typ as a metric label: job types without a handler count
// as "unknown", so a flood of made-up types cannot grow the label set.
func (c *Consumer) typeLabel(typ string) string {
	if _, ok := c.mux.routes[typ]; ok {
		return typ
	}
	return "unknown"
}
