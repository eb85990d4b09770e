package delays_test

// Tests against the emulators (fauxqs and DynamoDB Local), started by
// `make test` or localstack/with-emulators.sh; without them they skip.
// Hops are shortened to 2 s (the producer's first and the consumer's), so
// that a delay of several hops takes seconds; the assertions are the
// production ones.

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/busywork/busywork/consumer"
	"github.com/busywork/busywork/ddb"
	"github.com/busywork/busywork/delays"
	"github.com/busywork/busywork/internal/testenv"
	"github.com/busywork/busywork/producer"
)

// hop is the tests' shortened hop; holdLimit the longest wait a worker
// holds in its slot.
const (
	hop       = 2 * time.Second
	holdLimit = time.Second
)

// reminder is the tests' delayed job.
type reminder struct {
	Note string `json:"note"`
}

func (reminder) Type() string    { return "test_reminder" }
func (reminder) Validate() error { return nil }

// world is a queue with a DLQ and a table on the emulators, a producer
// that records delayed jobs, and the runs of the tests' handler.
type world struct {
	t        *testing.T
	sqs      *sqs.Client
	sqsCalls *testenv.Requests // SendMessage: the producer's sends and the workers' hops
	ddbCalls *testenv.Requests
	queue    string
	dlq      string
	store    *ddb.Store
	producer *producer.Producer
	delays   *delays.Delays

	mu      sync.Mutex
	runs    map[string][]time.Time // by job id
	running chan string            // receives a job id when its run starts, if set
	release chan struct{}          // a run waits for it, if set
	fail    map[string]int         // job id: runs left to fail
}

func newWorld(t *testing.T) *world {
	t.Helper()
	testenv.Require(t)
	w := &world{t: t, runs: map[string][]time.Time{}, fail: map[string]int{}}
	w.sqsCalls, w.ddbCalls = testenv.NewRequests(), testenv.NewRequests()
	w.sqs = testenv.SQS(t, func(o *sqs.Options) { o.APIOptions = append(o.APIOptions, w.sqsCalls.Add) })
	w.queue, w.dlq = testenv.NewQueue(t, w.sqs, testenv.QueueOptions{MaxReceiveCount: 5})
	db := testenv.DynamoDB(t, func(o *dynamodb.Options) { o.APIOptions = append(o.APIOptions, w.ddbCalls.Add) })
	w.store = ddb.New(db, testenv.NewTable(t, db))
	w.producer = producer.New(w.sqs, w.queue, producer.WithDelayStore(w.store), producer.WithMaxHop(hop),
		producer.WithTimeout(10*time.Second))
	w.delays = delays.New(w.store, delays.Options{})
	return w
}

// handle is the tests' handler: it records the run, waits for release
// if set, and fails while fail says so.
func (w *world) handle(ctx context.Context, _ reminder) error {
	d, _ := consumer.DeliveryFromContext(ctx)
	w.mu.Lock()
	running, release := w.running, w.release
	w.mu.Unlock()
	if running != nil {
		running <- d.ID
	}
	if release != nil {
		select {
		case <-release:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fail[d.ID] > 0 {
		w.fail[d.ID]--
		return errors.New("injected failure")
	}
	w.runs[d.ID] = append(w.runs[d.ID], time.Now())
	return nil
}

// serve runs a worker with the delays middleware and the tests' handler
// until the returned stop is called or the test ends.
func (w *world) serve() (stop func()) {
	w.t.Helper()
	mux := consumer.NewMux()
	mux.Use(w.delays.Middleware())
	consumer.Handle(mux, w.handle)
	c, err := consumer.New(w.sqs, mux, consumer.Config{
		Queues:    []consumer.QueueConfig{{URL: w.queue, Concurrency: 10}},
		HoldLimit: holdLimit, MaxHop: hop, DrainTimeout: 5 * time.Second,
		BackoffBase: time.Second, BackoffMax: time.Second,
	})
	if err != nil {
		w.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	stop = sync.OnceFunc(func() {
		cancel()
		if err := <-done; err != nil {
			w.t.Errorf("Run: %v", err)
		}
	})
	w.t.Cleanup(stop)
	return stop
}

// send sends a reminder under id, due after delay, and returns when it is
// due: the due_at its message carries is no earlier.
func (w *world) send(id string, delay time.Duration) time.Time {
	w.t.Helper()
	sent := time.Now()
	if _, err := w.producer.Send(context.Background(), reminder{Note: id}, producer.JobID(id), producer.Delay(delay)); err != nil {
		w.t.Fatal(err)
	}
	return sent.Add(delay)
}

// runsOf returns the successful runs of job id.
func (w *world) runsOf(id string) []time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]time.Time(nil), w.runs[id]...)
}

// awaitRuns waits until job id ran n times, for up to d.
func (w *world) awaitRuns(id string, n int, d time.Duration) []time.Time {
	w.t.Helper()
	deadline := time.Now().Add(d)
	for {
		if runs := w.runsOf(id); len(runs) >= n {
			return runs
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("job %s: %d runs after %v, want %d", id, len(w.runsOf(id)), d, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// sent returns how many messages were sent: the producer's sends and
// the workers' hops.
func (w *world) sent() int { return w.sqsCalls.Snapshot()["SendMessage"] }

// awaitCopies waits until n messages were sent.
func (w *world) awaitCopies(n int) {
	w.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for w.sent() < n {
		if time.Now().After(deadline) {
			w.t.Fatalf("%d messages sent after 30s, want %d", w.sent(), n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// runsOnce waits up to d for job id's run, then for the queue to hold
// nothing, and checks that the job ran exactly once; it returns when it
// ran.
func (w *world) runsOnce(id string, d time.Duration) time.Time {
	w.t.Helper()
	runs := w.awaitRuns(id, 1, d)
	w.settled()
	if n := len(w.runsOf(id)); n != 1 {
		w.t.Errorf("job %s succeeded %d times, want once", id, n)
	}
	return runs[0]
}

// settled waits until the queue holds nothing and checks that nothing was
// dead-lettered.
func (w *world) settled() {
	w.t.Helper()
	testenv.AwaitEmpty(w.t, w.sqs, w.queue, time.Minute)
	if n := testenv.QueueSize(w.t, w.sqs, w.dlq); n != 0 {
		w.t.Errorf("the DLQ holds %d messages, want none", n)
	}
}

// A job delayed by 9 s, five times the 2 s hop, runs once, not before its
// due time, after the workers sent it on as fresh copies.
func TestDelayed_RunsAfterItsDelayAndNotBefore(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.serve()
	const delay = 9 * time.Second
	due := w.send("later-1", delay)
	ran := w.runsOnce("later-1", time.Minute)
	if ran.Before(due) {
		t.Errorf("ran %v before its due time", due.Sub(ran))
	}
	if late := ran.Sub(due); late > 3*time.Second {
		t.Errorf("ran %v after its due time, want within a hop and a hold", late)
	}
	// The send, and a copy per hop: 9 s in hops of at most 2 s.
	if n := w.sent(); n < 4 {
		t.Errorf("%d SendMessage calls, want the send and at least 3 hops", n)
	}
}

// A job cancelled mid-delay never runs; one sent beside it, not
// cancelled, runs.
func TestDelayed_CancelledJobNeverRuns(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.serve()
	w.send("cancelled-1", 6*time.Second)
	w.send("kept-1", 6*time.Second)
	w.awaitCopies(4) // mid-delay: both jobs hopped once
	j, err := w.delays.Cancel(context.Background(), "cancelled-1")
	if err != nil || j.Status != ddb.DelayCancelled || j.Type != "test_reminder" {
		t.Fatalf("Cancel = %+v, %v; want the reminder cancelled", j, err)
	}
	w.awaitRuns("kept-1", 1, time.Minute)
	w.settled() // the cancelled one came due too, and was deleted
	if runs := w.runsOf("cancelled-1"); len(runs) != 0 {
		t.Errorf("the cancelled job ran %d times, want never", len(runs))
	}
	if j, err := w.delays.Cancel(context.Background(), "cancelled-1"); err != nil || j.Status != ddb.DelayCancelled {
		t.Errorf("a second Cancel = %+v, %v; want it cancelled, no error", j, err)
	}
}

// A cancel of an id with no delayed job is an error naming it, and
// changes nothing: an unknown id, a job sent without a delay (which runs),
// a string that is no job id.
func TestCancel_UnknownJobIsAnErrorAndChangesNothing(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	for _, id := range []string{"never-sent", "now-1", "not a job id"} {
		if id == "now-1" {
			if _, err := w.producer.Send(ctx, reminder{}, producer.JobID(id)); err != nil {
				t.Fatal(err)
			}
		}
		_, err := w.delays.Cancel(ctx, id)
		if !errors.Is(err, ddb.ErrNotFound) || !containsAll(err.Error(), "cancel", id) {
			t.Errorf("Cancel(%q) = %v, want ErrNotFound naming the id", id, err)
		}
	}
	w.serve()
	w.runsOnce("now-1", 30*time.Second)
}

// A job that started cannot be cancelled: Cancel fails and the job runs
// to its end, once.
func TestCancel_StartedJobIsRefusedAndRunsToItsEnd(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.running, w.release = make(chan string, 1), make(chan struct{})
	w.serve()
	w.send("started-1", time.Second)
	select {
	case <-w.running:
	case <-time.After(30 * time.Second):
		t.Fatal("the job did not start")
	}
	_, err := w.delays.Cancel(context.Background(), "started-1")
	close(w.release)
	if !errors.Is(err, ddb.ErrJobStarted) || !containsAll(err.Error(), "started-1") {
		t.Fatalf("Cancel of a running job = %v, want ErrJobStarted naming it", err)
	}
	w.runsOnce("started-1", 30*time.Second)
}

// A send under the id of a cancelled job is refused and sends nothing.
func TestSend_CancelledJobIDIsNotSentAgain(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ctx := context.Background()
	w.send("again-1", time.Hour)
	if _, err := w.delays.Cancel(ctx, "again-1"); err != nil {
		t.Fatal(err)
	}
	before := w.sent()
	id, err := w.producer.Send(ctx, reminder{}, producer.JobID("again-1"), producer.Delay(time.Hour))
	if !errors.Is(err, ddb.ErrJobCancelled) || id != "" {
		t.Fatalf("Send = %q, %v; want ErrJobCancelled and no id", id, err)
	}
	if n := w.sent() - before; n != 0 {
		t.Errorf("%d messages sent, want none", n)
	}
}

// duplicate leaves two copies of a delayed job on the queue, as a worker
// that dies between a hop's send and its delete does: it receives the
// producer's message, sends a copy with the same body and attributes, and
// makes the original visible again.
func (w *world) duplicate(id string, delay time.Duration) time.Time {
	w.t.Helper()
	due := w.send(id, delay)
	m := testenv.ReceiveAll(context.Background(), w.t, w.sqs, w.queue, 1, 30*time.Second)[0]
	if _, err := w.sqs.SendMessage(context.Background(), &sqs.SendMessageInput{
		QueueUrl: aws.String(w.queue), MessageBody: m.Body, MessageAttributes: m.MessageAttributes,
	}); err != nil {
		w.t.Fatal(err)
	}
	if _, err := w.sqs.ChangeMessageVisibility(context.Background(), &sqs.ChangeMessageVisibilityInput{
		QueueUrl: aws.String(w.queue), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0,
	}); err != nil {
		w.t.Fatal(err)
	}
	return due
}

// Two copies of one delayed job, delivered at once to a worker with ten
// slots, run it once; when the first run fails, the next copy runs it.
func TestDelayed_DuplicateCopiesRunOnce(t *testing.T) {
	t.Parallel()
	for _, failFirst := range []bool{false, true} {
		name := map[bool]string{false: "both due", true: "first run fails"}[failFirst]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			if failFirst {
				w.fail["dup-1"] = 1
			}
			due := w.duplicate("dup-1", time.Second)
			// Each run holds its slot a moment, so that the copies meet.
			w.release = make(chan struct{})
			time.AfterFunc(time.Until(due)+time.Second, func() { close(w.release) })
			w.serve()
			w.runsOnce("dup-1", time.Minute)
		})
	}
}

// A worker stopped mid-delay (a deploy) and another started after it lose
// nothing: every job runs once, none before its due time.
func TestDelayed_WorkerRestartedMidDelayLosesNothing(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	ids := []string{"r-1", "r-2", "r-3", "r-4", "r-5"}
	due := map[string]time.Time{}
	for i, id := range ids {
		due[id] = w.send(id, 6*time.Second+time.Duration(i)*500*time.Millisecond)
	}
	stop := w.serve()
	w.awaitCopies(2 * len(ids)) // every job hopped once
	stop()
	for _, id := range ids {
		if n := len(w.runsOf(id)); n != 0 {
			t.Fatalf("job %s ran before the restart, before its due time", id)
		}
	}
	w.serve()
	for _, id := range ids {
		if ran := w.runsOnce(id, time.Minute); ran.Before(due[id]) {
			t.Errorf("job %s ran %v before its due time", id, due[id].Sub(ran))
		}
	}
}

// A job sent without a delay carries no due_at and passes the middleware
// untouched: it runs, and neither the producer nor the worker makes a
// DynamoDB request for it.
func TestMiddleware_UndelayedJobPassesThroughAtNoCost(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	before := w.ddbCalls.Total()
	w.serve()
	if _, err := w.producer.Send(context.Background(), reminder{}, producer.JobID("now-2")); err != nil {
		t.Fatal(err)
	}
	w.runsOnce("now-2", 30*time.Second)
	if n := w.ddbCalls.Total() - before; n != 0 {
		t.Errorf("%d DynamoDB requests for an undelayed job, want none", n)
	}
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
