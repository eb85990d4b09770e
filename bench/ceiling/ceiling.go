//go:build linux

// Package ceiling is BenchmarkDrain's child that measures fauxqs's own
// ceiling: not a job consumer but the least a client must do to take jobs
// off a queue, so that what it drains is what the emulator (and the
// proxy, at a round trip) serves. Its test binary, run as
// TestHelperProcess, is the child.
package ceiling

import (
	"context"
	"fmt"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/busywork/busywork/bench/internal/drain"
)

// Consume serves s with s.Concurrency goroutines, each looping
// ReceiveMessage for up to 10 messages (a one-second long poll), decoding
// and handling them, then DeleteMessageBatch of those handled, in one call.
// No heartbeat, no bound on anything, no batching across goroutines: each
// goroutine keeps one call in flight, so s.Concurrency calls are, and
// enough of them keep the emulator busy whatever the round trip.
//
// When ctx ends each goroutine finishes its loop and returns, so that
// nothing is left invisible. It returns the first receive or delete error,
// having stopped; entries a delete batch reports Failed are problems.
func Consume(ctx context.Context, s drain.Setup) error {
	return drain.Loop(ctx, s.Concurrency, func() error { return takeBatch(s) })
}

// takeBatch receives up to 10 messages, handles them and deletes those
// handled in one call.
func takeBatch(s drain.Setup) error {
	out, err := s.Client.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
		QueueUrl:            aws.String(s.QueueURL),
		MaxNumberOfMessages: 10,
		WaitTimeSeconds:     1,
	})
	if err != nil {
		return fmt.Errorf("ceiling: receive: %w", err)
	}
	var done []types.DeleteMessageBatchRequestEntry
	for i, m := range out.Messages {
		if !s.HandleBody(context.Background(), "ceiling", aws.ToString(m.Body)) {
			continue
		}
		done = append(done, types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle})
	}
	if len(done) == 0 {
		return nil
	}
	del, err := s.Client.DeleteMessageBatch(context.Background(), &sqs.DeleteMessageBatchInput{
		QueueUrl: aws.String(s.QueueURL), Entries: done,
	})
	if err != nil {
		return fmt.Errorf("ceiling: delete: %w", err)
	}
	for _, f := range del.Failed {
		s.Problems.Add(fmt.Sprintf("ceiling: delete entry %s failed: %s", aws.ToString(f.Id), aws.ToString(f.Message)))
	}
	return nil
}
