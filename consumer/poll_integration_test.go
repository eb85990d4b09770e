package consumer_test

import (
	"context"
	"math"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/busywork/busywork/consumer"
	"github.com/busywork/busywork/internal/testenv"
	"github.com/busywork/busywork/jobs"
)

// On an idle lane a job arrives in the middle of a 20 s long poll, and SQS
// starts its visibility timeout then, not when the poll was sent: a first
// lease counted from the send would have run out on arrival, and the job
// would run twice.
func TestConsumer_JobsArrivingDuringAnIdleLongPollRunOnceWithTheirFullTimeout(t *testing.T) {
	testenv.Require(t)
	client := testenv.SQS(t)
	url, _ := testenv.NewQueue(t, client, testenv.QueueOptions{VisibilityTimeout: 30})
	const (
		work    = 2 * time.Second
		timeout = 10 * time.Second
	)
	var (
		mu        sync.Mutex
		deadlines = make(map[string]time.Duration) // job -> its handler's time to deadline at start
	)
	ran := newTally()
	mux := consumer.NewMux()
	consumer.Handle(mux, func(ctx context.Context, j jobs.Ping) error {
		dl, _ := ctx.Deadline()
		mu.Lock()
		deadlines[j.Message] = time.Until(dl)
		mu.Unlock()
		ran.add(j.Message)
		select {
		case <-time.After(work):
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}, consumer.Timeout(timeout))
	var logs logBuffer
	// WaitTime unset: the production 20 s long poll.
	r := start(t, client, mux, consumer.Config{Queues: []consumer.QueueConfig{{URL: url}}, Logger: logs.logger()})

	began := time.Now()
	var ids []string
	for _, at := range []time.Duration{2 * time.Second, 7 * time.Second, 15 * time.Second} {
		time.Sleep(time.Until(began.Add(at)))
		ids = append(ids, enqueue(t, client, url, jobs.Ping{Message: at.String()})...)
	}
	for _, id := range ids {
		waitFor(t, 2*work+5*time.Second, func() bool { return logs.outcome(id) != "" },
			func() string { return "job " + id + " has no outcome:\n" + logs.String() })
		if got := logs.outcome(id); got != consumer.OutcomeSucceeded {
			t.Errorf("job %s: outcome %s, want succeeded:\n%s", id, got, logs.String())
		}
	}
	r.stop(t)
	for msg, n := range ran.snapshot() {
		if n != 1 {
			t.Errorf("the job sent %s into the poll ran %d times, want once", msg, n)
		}
		if d := deadlines[msg]; d < timeout-time.Second {
			t.Errorf("the job sent %s into the poll started with %s to its deadline, want its full %s", msg, d, timeout)
		}
	}
	if n := len(ran.snapshot()); n != 3 {
		t.Errorf("%d of the 3 jobs ran", n)
	}
	if n := testenv.QueueSize(t, client, url); n != 0 {
		t.Errorf("%d messages left on the queue, want every job deleted", n)
	}
}

// A shutdown lets the long polls in flight finish within the drain
// timeout: a job that reaches one of them while the worker stops is
// handled and deleted, not stranded invisible, and the idle worker still
// stops within its bound.
func TestConsumer_AJobArrivingWhileAnIdleWorkerStopsIsHandledNotStranded(t *testing.T) {
	testenv.Require(t)
	client := testenv.SQS(t)
	url, _ := testenv.NewQueue(t, client, testenv.QueueOptions{VisibilityTimeout: 30})
	handled := newTally()
	mux := consumer.NewMux()
	consumer.Handle(mux, func(ctx context.Context, j jobs.Ping) error {
		handled.add(j.Message)
		return nil
	})
	cfg := consumer.Config{Queues: []consumer.QueueConfig{{URL: url}}, DrainTimeout: 25 * time.Second}
	r := start(t, client, mux, cfg)
	time.Sleep(2 * time.Second) // both long polls now wait on an empty queue

	stopped := time.Now()
	go func() {
		time.Sleep(time.Second)
		enqueue(t, client, url, jobs.Ping{Message: "late"})
	}()
	r.stop(t)
	if took, bound := time.Since(stopped), 20*time.Second; took > bound {
		t.Errorf("the idle worker took %s to stop, past its long poll's %s", took, bound)
	}
	if n := handled.snapshot()["late"]; n != 1 {
		t.Fatalf("the job sent while the worker stopped ran %d times, want once, by the stopping worker", n)
	}
	if n := testenv.QueueSize(t, client, url); n != 0 {
		t.Errorf("%d messages left on the queue, want the late job deleted", n)
	}
}

// A worker takes from the queue only what it can run in about a round
// trip, whatever the backlog: its slots, and ahead of them a batch or 2 ×
// its rate × the receive's round trip, whichever is more. The rest stays
// visible for other workers. What it holds is the queue's invisible
// messages less those whose handlers returned and whose deletes SQS has
// not confirmed yet (their number follows the deletes' round trip, which
// a loaded machine stretches, and they are done, not held).
func TestConsumer_HoldsOnlyWhatItCanRunSoonAheadOfItsHandlers(t *testing.T) {
	testenv.Require(t)
	client := testenv.SQS(t)
	proxy := testenv.NewDelayProxy(t, os.Getenv(testenv.EnvSQS))
	proxy.Set(testenv.Delay{Before: 20 * time.Millisecond})
	url, _ := testenv.NewQueue(t, client, testenv.QueueOptions{VisibilityTimeout: 30})
	const (
		concurrency = 5
		jobTime     = 300 * time.Millisecond
	)
	var (
		finished, confirmed atomic.Int64
		mu                  sync.Mutex
		slowestReceive      time.Duration // of those that brought messages
	)
	started := newTally()
	mux := consumer.NewMux()
	consumer.Handle(mux, func(ctx context.Context, j jobs.Ping) error {
		started.add(j.Message)
		time.Sleep(jobTime)
		finished.Add(1)
		return nil
	})
	enqueue(t, client, url, pings(200)...)
	worker := testenv.SQS(t, func(o *sqs.Options) { o.BaseEndpoint = aws.String(proxy.URL) },
		around("DeleteMessageBatch", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			out, md, err := next.HandleInitialize(ctx, in)
			if err == nil {
				confirmed.Add(int64(len(out.Result.(*sqs.DeleteMessageBatchOutput).Successful)))
			}
			return out, md, err
		}),
		around("ReceiveMessage", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			sent := time.Now()
			out, md, err := next.HandleInitialize(ctx, in)
			if err == nil && len(out.Result.(*sqs.ReceiveMessageOutput).Messages) > 0 {
				mu.Lock()
				slowestReceive = max(slowestReceive, time.Since(sent))
				mu.Unlock()
			}
			return out, md, err
		}))
	start(t, worker, mux, consumer.Config{Queues: []consumer.QueueConfig{{URL: url, Concurrency: concurrency}}})

	started.await(t, 10*time.Second, "jobs running", func(n map[string]int) bool { return len(n) >= 3*concurrency })
	most := 0
	for samples := 0; samples < 20; {
		// A sample counts only if no job finished and no delete was
		// confirmed while the queue was counted.
		done, gone := finished.Load(), confirmed.Load()
		invisible := hidden(t, client, url)
		if finished.Load() != done || confirmed.Load() != gone {
			continue
		}
		most = max(most, invisible-int(done-gone))
		samples++
		time.Sleep(100 * time.Millisecond)
	}
	// Its slots and what it may hold ahead of them at its highest rate
	// (every slot busy) and its slowest receive.
	mu.Lock()
	rtt := slowestReceive
	mu.Unlock()
	rate := concurrency / jobTime.Seconds()
	ahead := max(concurrency, int(math.Ceil(2*rate*rtt.Seconds())))
	if bound := concurrency + ahead; most > bound {
		t.Fatalf("the worker held up to %d messages it had not finished, more than %d (%d slots, %d ahead for receives of up to %v): it hoards the backlog",
			most, bound, concurrency, ahead, rtt)
	}
	t.Logf("at most %d messages held by a worker of %d slots (receives of up to %v)", most, concurrency, rtt)
}

// hidden returns how many of queueURL's messages are invisible.
func hidden(t *testing.T, client *sqs.Client, queueURL string) int {
	t.Helper()
	out, err := client.GetQueueAttributes(t.Context(), &sqs.GetQueueAttributesInput{
		QueueUrl:       aws.String(queueURL),
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameApproximateNumberOfMessagesNotVisible},
	})
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(out.Attributes[string(types.QueueAttributeNameApproximateNumberOfMessagesNotVisible)])
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// A worker told to stop while it reads its queues' settings (a SIGTERM
// right after start) stops cleanly: there is nothing to drain.
func TestConsumer_StoppedBeforeItServesRunReturnsNil(t *testing.T) {
	testenv.Require(t)
	client := testenv.SQS(t)
	url, _ := testenv.NewQueue(t, client, testenv.QueueOptions{VisibilityTimeout: 30})
	mux := consumer.NewMux()
	consumer.Handle(mux, func(context.Context, jobs.Ping) error { return nil })
	c, err := consumer.New(client, mux, consumer.Config{Queues: []consumer.QueueConfig{{URL: url}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := c.Run(ctx); err != nil {
		t.Fatalf("Run with its context already ended: %v, want nil", err)
	}
}
