//go:build unix

package consumer_test

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/busywork/busywork/jobs"
)

// naiveDrain drains n jobs from url the way a first SQS consumer is often
// written: workers goroutines, each looping ReceiveMessage for one message
// with a one-second long poll, decoding and handling it, then DeleteMessage
// for it alone. It is the baseline BenchmarkDrain compares busywork with.
//
// Once n jobs have been handled it stops as busywork's Run does: no new
// receive starts, a receive in flight is let finish (so nothing is left
// invisible), and every delete is confirmed before it returns. It returns
// when the n-th job was handled.
func naiveDrain(b *testing.B, client *sqs.Client, url string, n int64, workers int) (lastHandled time.Time) {
	var (
		handled  atomic.Int64
		allDone  = make(chan struct{})
		stopping = make(chan struct{})
		wg       sync.WaitGroup
	)
	handle := func(context.Context, jobs.Ping) error { return nil }
	for range workers {
		wg.Go(func() {
			for {
				select {
				case <-stopping:
					return
				default:
				}
				out, err := client.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
					QueueUrl:            aws.String(url),
					MaxNumberOfMessages: 1,
					WaitTimeSeconds:     1,
				})
				if err != nil {
					b.Errorf("naive: receive: %v", err)
					return
				}
				for _, m := range out.Messages {
					var job jobs.Ping
					if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &job); err != nil {
						b.Errorf("naive: decode %q: %v", aws.ToString(m.Body), err)
						return
					}
					if err := handle(context.Background(), job); err != nil {
						continue
					}
					if handled.Add(1) == n {
						close(allDone)
					}
					if _, err := client.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{
						QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle,
					}); err != nil {
						b.Errorf("naive: delete: %v", err)
						return
					}
				}
			}
		})
	}
	lastHandled = awaitHandled(b, allDone, &handled, n)
	close(stopping)
	wg.Wait()
	return lastHandled
}
