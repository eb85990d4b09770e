package consumer

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

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
}

// New returns a Consumer that serves cfg.Queues to mux's handlers. It checks
// cfg and fills in its defaults; it makes no SQS call and starts nothing.
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
	c := &Consumer{client: client, mux: mux, cfg: cfg}
	for _, q := range cfg.Queues {
		c.slots += q.Concurrency
	}
	return c, nil
}

// Run serves jobs until ctx ends, then shuts down gracefully and returns
// nil:
//
//  1. No new receive starts; a receive in flight is let finish (at most
//     WaitTime) and its messages are handled like the others.
//  2. Running jobs get until DrainTimeout after ctx ended to finish.
//  3. The messages of jobs still running then are released (visible again
//     at once, for another worker) and their handlers' contexts cancelled.
//  4. Pending deletes and visibility changes are sent and confirmed.
//  5. Handlers get HungGrace more to return; any still running are logged
//     and left behind: Go cannot stop a goroutine that ignores its context.
//
// Every goroutine Run starts has ended when it returns, except such hung
// handlers. Run returns an error without serving if a queue cannot be read
// or has no dead-letter queue. A Consumer runs once.
func (c *Consumer) Run(ctx context.Context) error {
	if c.ran.Swap(true) {
		return errors.New("consumer: Run called twice")
	}
	lanes := make([]*lane, len(c.cfg.Queues))
	for i, q := range c.cfg.Queues {
		l, err := c.newLane(ctx, q)
		if err != nil {
			return err
		}
		lanes[i] = l
	}

	// Jobs keep ctx's values but not its cancellation: a shutdown gives them
	// the drain timeout rather than cancelling them at once.
	jobsCtx, cancelJobs := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelJobs()
	stopBeats := make(chan struct{})
	var pollers, background sync.WaitGroup
	for _, l := range lanes {
		background.Go(l.deletes.run)
		background.Go(l.changes.run)
		background.Go(func() { l.beat.run(stopBeats) })
		for range l.cfg.Pollers {
			pollers.Go(func() { l.poll(ctx, jobsCtx) })
		}
		l.log.Info("serving queue", "concurrency", l.cfg.Concurrency, "pollers", l.cfg.Pollers,
			"lease_s", l.lease.Seconds(), "dead_letter_queue", l.dlqURL)
	}
	<-ctx.Done()

	log := c.cfg.Logger
	log.Info("shutting down: receiving no more jobs", "drain_timeout_s", c.cfg.DrainTimeout.Seconds())
	drain, cancelDrain := context.WithTimeout(context.Background(), c.cfg.DrainTimeout)
	defer cancelDrain()
	pollers.Wait()
	for _, l := range lanes {
		if l.unsettle.wait(drain) != nil {
			for _, m := range l.beat.tracked() {
				l.finish(m, result{outcome: OutcomeReleased, err: errors.New("worker shutting down")})
			}
		}
	}
	cancelJobs()
	confirm, cancelConfirm := context.WithTimeout(context.Background(), 2*callTimeout)
	defer cancelConfirm()
	for _, l := range lanes {
		if err := l.unsettle.wait(confirm); err != nil {
			log.Error("shutdown: SQS did not confirm every settled job", "queue", l.name, "error", err)
		}
	}
	close(stopBeats)
	for _, l := range lanes {
		l.deletes.close()
		l.changes.close()
	}
	background.Wait()

	grace, cancelGrace := context.WithTimeout(context.Background(), c.cfg.HungGrace)
	defer cancelGrace()
	for _, l := range lanes {
		if l.running.wait(grace) != nil {
			log.Error("shutdown: handlers ignore their cancelled context; leaving them behind", "queue", l.name)
		}
	}
	log.Info("shut down")
	return nil
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
