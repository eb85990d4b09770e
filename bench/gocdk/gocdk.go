//go:build linux

// Package gocdk is BenchmarkDrain's child that serves with the Go CDK's
// pubsub: its test binary, run as TestHelperProcess, is the child.
package gocdk

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"gocloud.dev/pubsub/awssnssqs"

	"github.com/busywork/busywork/bench/internal/drain"
	"github.com/busywork/busywork/jobs"
)

// Consume serves s with the Go CDK's pubsub as its documentation shows
// (gocloud.dev/pubsub ExampleSubscription_Receive_concurrent, on the
// "Subscribe to Messages" how-to): awssnssqs.OpenSubscription with its
// default options, Raw set because the messages are sent to SQS directly,
// and a receive loop that runs each message in its own goroutine under a
// semaphore of s.Concurrency, acknowledging it when its handler returns.
// On shutdown it waits for its handlers, then Shutdown flushes the acks.
func Consume(ctx context.Context, s drain.Setup) error {
	sub := awssnssqs.OpenSubscription(ctx, s.Client, s.QueueURL, &awssnssqs.SubscriptionOptions{Raw: true})
	sem := make(chan struct{}, s.Concurrency)
	var recvErr error
recvLoop:
	for {
		msg, err := sub.Receive(ctx)
		if err != nil {
			if ctx.Err() == nil {
				recvErr = fmt.Errorf("gocdk: receive: %w", err)
			}
			break
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			break recvLoop
		}
		go func() {
			defer func() { <-sem }()
			defer msg.Ack()
			var job jobs.Ping
			if err := json.Unmarshal(msg.Body, &job); err != nil {
				s.Problems.Add(fmt.Sprintf("gocdk: decode %q: %v", msg.Body, err))
				return
			}
			if err := s.Handle(ctx, job); err != nil {
				s.Problems.Add("gocdk: handler: " + err.Error())
			}
		}()
	}
	for range s.Concurrency {
		sem <- struct{}{}
	}
	stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := sub.Shutdown(stopCtx); err != nil {
		return errors.Join(recvErr, fmt.Errorf("gocdk: shutdown: %w", err))
	}
	return recvErr
}
