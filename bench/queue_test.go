//go:build linux

package bench_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"golang.org/x/sync/errgroup"

	"github.com/busywork/busywork/jobs"
	"github.com/busywork/busywork/producer"
)

// fillQueue sends n ping jobs, messages "0" to "n-1", through p with
// SendBatch, several calls at once.
func fillQueue(b *testing.B, p *producer.Producer, n int) {
	const perCall = 1000
	began := time.Now()
	var g errgroup.Group
	g.SetLimit(4) // each SendBatch has up to 8 calls in flight
	for lo := 0; lo < n; lo += perCall {
		g.Go(func() error {
			js := make([]jobs.Job, min(perCall, n-lo))
			for i := range js {
				js[i] = jobs.Ping{Message: strconv.Itoa(lo + i)}
			}
			_, err := p.SendBatch(context.Background(), js)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		b.Fatalf("fill the queue: %v", err)
	}
	b.Logf("filled the queue with %d jobs in %s", n, time.Since(began).Round(time.Millisecond))
}

// sendSpaced sends n ping jobs through p one Send at a time, gap apart;
// each message is the job's index and its send time in Unix nanoseconds.
func sendSpaced(p *producer.Producer, n int, gap time.Duration) error {
	t := time.NewTicker(gap)
	defer t.Stop()
	for i := range n {
		<-t.C
		msg := strconv.Itoa(i) + " " + strconv.FormatInt(time.Now().UnixNano(), 10)
		if _, err := p.Send(context.Background(), jobs.Ping{Message: msg}); err != nil {
			return fmt.Errorf("send idle job %d: %w", i, err)
		}
	}
	return nil
}

// requireEmpty fails b unless url has no message left, visible or not:
// every job was deleted, not just handled.
func requireEmpty(b *testing.B, client *sqs.Client, url string) {
	counts, err := queueCounts(context.Background(), client, url)
	if err != nil {
		b.Fatal(err)
	}
	for _, name := range slices.Sorted(maps.Keys(counts)) {
		if v := counts[name]; v != "0" {
			b.Errorf("after the drain %s = %s, want 0", name, v)
		}
	}
}

// queueCounts returns url's ApproximateNumberOfMessages and
// ApproximateNumberOfMessagesNotVisible, by name.
func queueCounts(ctx context.Context, client *sqs.Client, url string) (map[string]string, error) {
	out, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(url),
		AttributeNames: []types.QueueAttributeName{
			types.QueueAttributeNameApproximateNumberOfMessages,
			types.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
		},
	})
	if err != nil {
		return nil, err
	}
	return out.Attributes, nil
}

// drainRest receives and deletes every message left on url (messages "0"
// to "n-1", as fillQueue sends them) with several goroutines, directly
// from the emulator, and returns the indexes of the jobs it received. It
// returns once a receive came back empty and the queue then counted no
// message, visible or not: messages a killed consumer held come back when
// their visibility timeout ends, and fauxqs counts an expired message as
// not visible until a receive, so the counts are read only after one.
func drainRest(ctx context.Context, client *sqs.Client, url string, n int) (map[int]bool, error) {
	var (
		mu   sync.Mutex
		seen = make(map[int]bool)
	)
	g, ctx := errgroup.WithContext(ctx)
	for range 8 {
		g.Go(func() error {
			for {
				out, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
					QueueUrl: aws.String(url), MaxNumberOfMessages: 10, WaitTimeSeconds: 1,
				})
				if err != nil {
					return fmt.Errorf("receive what is left: %w", err)
				}
				if len(out.Messages) == 0 {
					counts, err := queueCounts(ctx, client, url)
					if err != nil {
						return err
					}
					if counts[string(types.QueueAttributeNameApproximateNumberOfMessages)] == "0" &&
						counts[string(types.QueueAttributeNameApproximateNumberOfMessagesNotVisible)] == "0" {
						return nil
					}
					continue
				}
				var entries []types.DeleteMessageBatchRequestEntry
				for i, m := range out.Messages {
					idx, err := jobIndex(aws.ToString(m.Body), n)
					if err != nil {
						return err
					}
					mu.Lock()
					seen[idx] = true
					mu.Unlock()
					entries = append(entries, types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle})
				}
				del, err := client.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(url), Entries: entries})
				if err != nil {
					return fmt.Errorf("delete what is left: %w", err)
				}
				if len(del.Failed) > 0 {
					return fmt.Errorf("delete what is left: entry %s failed: %s", aws.ToString(del.Failed[0].Id), aws.ToString(del.Failed[0].Message))
				}
			}
		})
	}
	err := g.Wait()
	return seen, err
}

// jobIndex returns the index of the ping job in body, a message of
// fillQueue's: below n.
func jobIndex(body string, n int) (int, error) {
	var job jobs.Ping
	if err := json.Unmarshal([]byte(body), &job); err != nil {
		return 0, fmt.Errorf("message %q: %w", body, err)
	}
	i, err := strconv.Atoi(job.Message)
	if err != nil || i < 0 || i >= n {
		return 0, fmt.Errorf("message %q: not a job index below %d", body, n)
	}
	return i, nil
}
