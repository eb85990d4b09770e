package consumer_test

import (
	"context"
	"log/slog"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/busywork/busywork/consumer"
	"github.com/busywork/busywork/ddb"
	"github.com/busywork/busywork/internal/testenv"
	"github.com/busywork/busywork/jobs"
	"github.com/busywork/busywork/ratelimit"
)

// BenchmarkFlowCosts measures what each of the consumer's ways of waiting
// costs, in SQS and DynamoDB requests per job (sqs-req/job, ddb-req/job;
// everything the worker's clients sent, receives and heartbeats included),
// on the emulators through proxies that add a 20 ms round trip:
//
//   - plain: jobs of a type with no limit, policy or snooze: the baseline.
//   - unlimited: the same with a rate limit of no rate and a retry policy
//     registered: the features exist and cost nothing.
//   - limited: a rate limit of 100 jobs a second across the consumer.
//   - snoozed: each job snoozes once past the hold, so goes on as a copy.
//   - delayed: each job due 4 hops away (hops shortened to 1 s), as a job
//     delayed an hour is with SQS's 15-minute hops.
//
// Run it with go test -run '^$' -bench FlowCosts ./consumer/.
func BenchmarkFlowCosts(b *testing.B) {
	testenv.Require(b)
	const n = 200
	sqsCount, ddbCount := testenv.NewRequests(), testenv.NewRequests()
	var remote [2]string
	for i, endpoint := range []string{testenv.EnvSQS, testenv.EnvDynamoDB} {
		proxy := testenv.NewDelayProxy(b, os.Getenv(endpoint))
		proxy.Set(testenv.Delay{Before: 10 * time.Millisecond, After: 10 * time.Millisecond})
		remote[i] = proxy.URL
	}
	client := testenv.SQS(b, func(o *sqs.Options) {
		o.BaseEndpoint = aws.String(remote[0])
		o.APIOptions = append(o.APIOptions, sqsCount.Add)
	})
	dynamo := testenv.DynamoDB(b, func(o *dynamodb.Options) {
		o.BaseEndpoint = aws.String(remote[1])
		o.APIOptions = append(o.APIOptions, ddbCount.Add)
	})
	store := ddb.New(dynamo, testenv.NewTable(b, testenv.DynamoDB(b)))

	type scenario struct {
		name string
		cfg  consumer.Config
		opts []consumer.HandleOption
		snz  time.Duration // each job's first run snoozes this long
		due  time.Duration // each job is due this far ahead
	}
	for _, sc := range []scenario{
		{name: "plain"},
		{name: "unlimited", opts: []consumer.HandleOption{
			consumer.RateLimit(ratelimit.New(store, "free", ratelimit.Rate{})),
			consumer.Retry(consumer.RetryPolicy{Attempts: 8}),
		}},
		{name: "limited-100/s", opts: []consumer.HandleOption{consumer.RateLimit(ratelimit.New(store, "bench", ratelimit.PerSecond(100)))}},
		{name: "snoozed", cfg: consumer.Config{HoldLimit: 100 * time.Millisecond}, snz: time.Second},
		{name: "delayed-4-hops", cfg: consumer.Config{HoldLimit: 100 * time.Millisecond, MaxHop: time.Second}, due: 4 * time.Second},
	} {
		b.Run(sc.name, func(b *testing.B) {
			var sqsReqs, ddbReqs float64
			for range b.N {
				b.StopTimer()
				url, _ := testenv.NewQueue(b, testenv.SQS(b), testenv.QueueOptions{MaxReceiveCount: 5})
				fill(b, url, n, sc.due)
				var done atomic.Int64
				var snoozed sync.Map // job ids
				finished := make(chan struct{})
				mux := consumer.NewMux()
				consumer.Handle(mux, func(ctx context.Context, j jobs.Ping) error {
					if _, again := snoozed.LoadOrStore(j.Message, true); sc.snz > 0 && !again {
						return consumer.Snooze(sc.snz)
					}
					if done.Add(1) == n {
						close(finished)
					}
					return nil
				}, sc.opts...)
				cfg := sc.cfg
				cfg.Queues = []consumer.QueueConfig{{URL: url, Concurrency: 10}}
				cfg.DrainTimeout = 5 * time.Second
				cfg.Logger = slog.New(slog.DiscardHandler)
				sqs0, ddb0 := sqsCount.Total(), ddbCount.Total()
				b.StartTimer()
				c, err := consumer.New(client, mux, cfg)
				if err != nil {
					b.Fatal(err)
				}
				ctx, cancel := context.WithCancel(context.Background())
				ran := make(chan error, 1)
				go func() { ran <- c.Run(ctx) }()
				select {
				case <-finished:
				case <-time.After(5 * time.Minute):
					b.Fatalf("%d of %d jobs done after 5 minutes", done.Load(), n)
				}
				b.StopTimer()
				cancel()
				if err := <-ran; err != nil {
					b.Fatal(err)
				}
				// The shutdown's last deletes are part of the jobs' cost.
				sqsReqs += float64(sqsCount.Total() - sqs0)
				ddbReqs += float64(ddbCount.Total() - ddb0)
			}
			b.ReportMetric(sqsReqs/float64(b.N*n), "sqs-req/job")
			b.ReportMetric(ddbReqs/float64(b.N*n), "ddb-req/job")
		})
	}
}

// fill sends n pings to url, due after due when it is positive.
func fill(b *testing.B, url string, n int, due time.Duration) {
	client := testenv.SQS(b)
	js := pings(n)
	for start := 0; start < n; start += 10 {
		entries := make([]types.SendMessageBatchRequestEntry, 0, 10)
		for i := start; i < min(start+10, n); i++ {
			body, _ := jobs.Marshal(js[i])
			attrs := map[string]types.MessageAttributeValue{jobs.AttrJobID: stringValue("bench-" + strconv.Itoa(i))}
			if due > 0 {
				attrs[jobs.AttrDueAt] = stringValue(time.Now().Add(due).UTC().Format(time.RFC3339Nano))
			}
			entries = append(entries, types.SendMessageBatchRequestEntry{
				Id: aws.String(strconv.Itoa(i)), MessageBody: aws.String(string(body)), MessageAttributes: attrs,
			})
		}
		testenv.SendMessages(b.Context(), b, client, url, entries)
	}
}

func stringValue(s string) types.MessageAttributeValue {
	return types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(s)}
}
