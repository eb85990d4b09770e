//go:build linux

// Package naive is BenchmarkDrain's child that serves the way a first SQS
// consumer is often written: its test binary, run as TestHelperProcess, is
// the child.
package naive

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/busywork/busywork/bench/internal/drain"
)

// Consume serves s the way a first SQS consumer is often written:
// s.Concurrency goroutines, each looping ReceiveMessage for one message
// with a one-second long poll, decoding and handling it, then DeleteMessage
// for it alone (a job whose handler fails is left for redelivery).
//
// When ctx ends it stops as busywork's Run does: no new receive starts, a
// receive in flight is let finish and its message handled (so nothing is
// left invisible), and every delete is confirmed before it returns. It
// returns the first receive or delete error, having stopped.
func Consume(ctx context.Context, s drain.Setup) error {
	return drain.Loop(ctx, s.Concurrency, func() error {
		out, err := s.Client.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
			QueueUrl:            aws.String(s.QueueURL),
			MaxNumberOfMessages: 1,
			WaitTimeSeconds:     1,
		})
		if err != nil {
			return fmt.Errorf("naive: receive: %w", err)
		}
		for _, m := range out.Messages {
			if !s.HandleBody(context.Background(), "naive", aws.ToString(m.Body)) {
				continue
			}
			if _, err := s.Client.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{
				QueueUrl: aws.String(s.QueueURL), ReceiptHandle: m.ReceiptHandle,
			}); err != nil {
				return fmt.Errorf("naive: delete: %w", err)
			}
		}
		return nil
	})
}
