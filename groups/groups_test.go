package groups_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/busywork/busywork/consumer"
	"github.com/busywork/busywork/ddb"
	"github.com/busywork/busywork/groups"
	"github.com/busywork/busywork/internal/dlq"
	"github.com/busywork/busywork/internal/testenv"
	"github.com/busywork/busywork/jobs"
	"github.com/busywork/busywork/producer"
)

// part is a child job of the tests' groups.
type part struct {
	Group string `json:"group"`
	N     int    `json:"n"`
}

func (part) Type() string { return "test_part" }

func (p part) Validate() error {
	if p.N < 1 {
		return errors.New("n: missing")
	}
	return nil
}

// assemble is the follow-up of the tests' groups.
type assemble struct {
	Group string `json:"group"`
}

func (assemble) Type() string { return "test_assemble" }

func (a assemble) Validate() error {
	if a.Group == "" {
		return errors.New("group: missing")
	}
	return nil
}

// parts returns n children of group id.
func parts(id string, n int) []jobs.Job {
	js := make([]jobs.Job, n)
	for i := range js {
		js[i] = part{Group: id, N: i + 1}
	}
	return js
}

// world is a queue with a DLQ, a table and a record of what the tests'
// handlers ran, on the emulators.
type world struct {
	t        *testing.T
	sqs      *sqs.Client
	queue    string
	dlq      string
	table    string
	store    *ddb.Store
	producer *producer.Producer

	mu        sync.Mutex
	partRuns  map[string]int // by group and child: "g/3"
	assembled map[string]int // by group
	broken    map[string]bool
}

func newWorld(t *testing.T) *world {
	t.Helper()
	return newWorldOf(t, 2)
}

// newWorldOf is newWorld with a queue that dead-letters a job after
// maxReceives receives.
func newWorldOf(t *testing.T, maxReceives int) *world {
	t.Helper()
	testenv.Require(t)
	client := testenv.SQS(t)
	queue, dlqURL := testenv.NewQueue(t, client, testenv.QueueOptions{MaxReceiveCount: maxReceives})
	db := testenv.DynamoDB(t)
	table := testenv.NewTable(t, db)
	return &world{
		t: t, sqs: client, queue: queue, dlq: dlqURL, table: table,
		store:     ddb.New(db, table),
		producer:  producer.New(client, queue, producer.WithTimeout(30*time.Second)),
		partRuns:  map[string]int{},
		assembled: map[string]int{},
		broken:    map[string]bool{},
	}
}

// groupID returns a group id unique to the test.
func (w *world) groupID(name string) string {
	return testenv.UniqueName(w.t, name+"-", jobs.MaxGroupIDBytes)
}

// mux returns the tests' handlers inside g's middleware.
func (w *world) mux(g *groups.Groups) *consumer.Mux {
	mux := consumer.NewMux()
	mux.Use(g.Middleware())
	consumer.Handle(mux, func(ctx context.Context, p part) error {
		key := p.Group + "/" + strconv.Itoa(p.N)
		w.mu.Lock()
		defer w.mu.Unlock()
		if w.broken[key] {
			return consumer.Permanent(fmt.Errorf("injected: part %d is broken", p.N))
		}
		w.partRuns[key]++
		return nil
	})
	consumer.Handle(mux, func(ctx context.Context, a assemble) error {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.assembled[a.Group]++
		return nil
	})
	return mux
}

// serve runs a worker with the tests' handlers, sending with q, until the
// test ends.
func (w *world) serve(q groups.Sender) *groups.Groups {
	w.t.Helper()
	g := groups.New(w.store, q, groups.Options{})
	c, err := consumer.New(w.sqs, w.mux(g), consumer.Config{
		Queues:       []consumer.QueueConfig{{URL: w.queue, Concurrency: 10}},
		DrainTimeout: 5 * time.Second,
		BackoffBase:  time.Second, BackoffMax: time.Second,
	})
	if err != nil {
		w.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	w.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			w.t.Errorf("Run: %v", err)
		}
	})
	return g
}

func (w *world) assembledCount(id string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.assembled[id]
}

// await polls group id's status until cond holds, for up to d.
func (w *world) await(id string, d time.Duration, what string, cond func(ddb.Batch) bool) ddb.Batch {
	w.t.Helper()
	g := groups.New(w.store, nil, groups.Options{})
	deadline := time.Now().Add(d)
	for {
		b, err := g.Status(context.Background(), id)
		if err == nil && cond(b) {
			return b
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("group %s: after %v, not %s: %+v (error %v)", id, d, what, b, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// counting is a groups.Sender that counts the follow-ups it sent and, when
// twice is set, sends every batch of children twice, as at-least-once
// delivery may deliver them.
type counting struct {
	groups.Sender
	twice     bool
	followUps atomic.Int64
}

func (c *counting) Send(ctx context.Context, j jobs.Job, opts ...producer.SendOption) (string, error) {
	id, err := c.Sender.Send(ctx, j, opts...)
	if err == nil && j.Type() == (assemble{}).Type() {
		c.followUps.Add(1)
	}
	return id, err
}

func (c *counting) SendBatch(ctx context.Context, js []jobs.Job, opts ...producer.SendOption) ([]producer.Result, error) {
	if c.twice {
		if _, err := c.Sender.SendBatch(ctx, js, opts...); err != nil {
			return nil, err
		}
	}
	return c.Sender.SendBatch(ctx, js, opts...)
}

func TestGroups_EveryChildDeliveredTwiceCountsOnceAndTheFollowUpIsEnqueuedAndRunOnce(t *testing.T) {
	for _, n := range []int{1, 2, 1000} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			q := &counting{Sender: w.producer, twice: true}
			g := w.serve(q)
			id := w.groupID("g" + strconv.Itoa(n))
			if err := g.Start(context.Background(), id, parts(id, n), assemble{Group: id}); err != nil {
				t.Fatal(err)
			}
			b := w.await(id, 2*time.Minute, "followed up", ddb.Batch.Dispatched)
			testenv.AwaitEmpty(t, w.sqs, w.queue, time.Minute) // every second copy handled too
			if got := w.assembledCount(id); got != 1 {
				t.Errorf("the follow-up ran %d times, want 1", got)
			}
			if got := q.followUps.Load(); got != 1 {
				t.Errorf("the follow-up was enqueued %d times, want 1", got)
			}
			b = w.await(id, 0, "final", func(ddb.Batch) bool { return true })
			if len(b.Done) != n || b.Total != n || len(b.Failed) != 0 || b.FollowUpSentAt.IsZero() || b.Stall != nil {
				t.Errorf("group %+v, want %d of %d done, the follow-up sent and run", b, n, n)
			}
			w.mu.Lock()
			defer w.mu.Unlock()
			for k := 1; k <= n; k++ {
				if w.partRuns[id+"/"+strconv.Itoa(k)] == 0 {
					t.Fatalf("child %d never ran", k)
				}
			}
		})
	}
}

func TestGroups_AChildThatFailedForGoodIsRecordedAndItsReplayFromTheDLQCompletesTheGroup(t *testing.T) {
	w := newWorld(t)
	q := &counting{Sender: w.producer}
	g := w.serve(q)
	id := w.groupID("failed")
	w.mu.Lock()
	w.broken[id+"/2"] = true
	w.mu.Unlock()
	if err := g.Start(context.Background(), id, parts(id, 3), assemble{Group: id}); err != nil {
		t.Fatal(err)
	}
	b := w.await(id, time.Minute, "child 2 failed and the rest done", func(b ddb.Batch) bool { return len(b.Done) == 2 && len(b.Failed) == 1 })
	if !strings.Contains(b.Failed[2], "injected: part 2 is broken") || b.Complete() || !b.FollowUpSentAt.IsZero() {
		t.Fatalf("group %+v, want child 2 failed with its reason, the group incomplete and no follow-up", b)
	}

	// The cause is fixed; the dead letter is replayed as `dlq replay` does.
	w.mu.Lock()
	w.broken[id+"/2"] = false
	w.mu.Unlock()
	dead, err := dlq.Open(context.Background(), w.sqs, w.queue)
	if err != nil {
		t.Fatal(err)
	}
	if sum, err := dead.Replay(context.Background(), dlq.ReplayOptions{}); err != nil || sum.Moved != 1 {
		t.Fatalf("replay: %+v, %v; want one letter moved", sum, err)
	}
	b = w.await(id, time.Minute, "followed up", ddb.Batch.Dispatched)
	testenv.AwaitEmpty(t, w.sqs, w.queue, time.Minute)
	if len(b.Failed) != 0 || len(b.Done) != 3 {
		t.Errorf("group %+v, want 3 done and none failed", b)
	}
	if got, sent := w.assembledCount(id), q.followUps.Load(); got != 1 || sent != 1 {
		t.Errorf("the follow-up was enqueued %d times and ran %d times, want once each", sent, got)
	}
}

func TestGroups_AFollowUpThatFailedForGoodStallsTheGroupAndRepairRunsItOnce(t *testing.T) {
	w := newWorld(t)
	q := &counting{Sender: w.producer}
	g := groups.New(w.store, q, groups.Options{})
	mux := consumer.NewMux()
	mux.Use(g.Middleware())
	var failing atomic.Bool
	failing.Store(true)
	var ran atomic.Int64
	consumer.Handle(mux, func(ctx context.Context, p part) error { return nil })
	consumer.Handle(mux, func(ctx context.Context, a assemble) error {
		if failing.Load() {
			return errors.New("injected: the assembler is down")
		}
		ran.Add(1)
		return nil
	})
	c, err := consumer.New(w.sqs, mux, consumer.Config{
		Queues:       []consumer.QueueConfig{{URL: w.queue, Concurrency: 10}},
		DrainTimeout: 5 * time.Second, BackoffBase: time.Second, BackoffMax: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	defer func() { cancel(); <-done }()

	id := w.groupID("stalled")
	if err := g.Start(context.Background(), id, parts(id, 2), assemble{Group: id}); err != nil {
		t.Fatal(err)
	}
	b := w.await(id, time.Minute, "stalled", func(b ddb.Batch) bool { return b.Stall != nil })
	if !b.Complete() || b.Dispatched() || !b.Stall.FollowUp || !strings.Contains(b.Stall.Reason, "assembler is down") {
		t.Fatalf("group %+v, stall %+v; want complete, the follow-up failed for good with its reason", b, b.Stall)
	}

	failing.Store(false)
	for range 2 { // twice: it still runs once
		r, err := g.Repair(context.Background(), id)
		if err != nil || !r.FollowUpSent {
			t.Fatalf("Repair: %+v, %v; want the follow-up sent", r, err)
		}
	}
	b = w.await(id, time.Minute, "followed up", ddb.Batch.Dispatched)
	testenv.AwaitEmpty(t, w.sqs, w.queue, time.Minute)
	if b.Stall != nil || ran.Load() != 1 {
		t.Errorf("group %+v, the follow-up ran %d times; want it run once and the stall gone", b, ran.Load())
	}
	if r, err := g.Repair(context.Background(), id); err != nil || r.FollowUpSent {
		t.Errorf("Repair of a followed-up group: %+v, %v; want nothing sent", r, err)
	}
}

func TestGroups_StartRefusesWhatNoGroupCanBe(t *testing.T) {
	g := groups.New(nil, nil, groups.Options{}) // refused before any call
	tests := []struct {
		name     string
		id       string
		children []jobs.Job
		followUp jobs.Job
		want     string
	}{
		{"bad id", "a b", parts("x", 1), assemble{Group: "x"}, "group_id"},
		{"long id", strings.Repeat("g", jobs.MaxGroupIDBytes+1), parts("x", 1), assemble{Group: "x"}, "longer than"},
		{"no children", "g", nil, assemble{Group: "g"}, "0 children"},
		{"too many", "g", make([]jobs.Job, ddb.MaxBatchChildren+1), assemble{Group: "g"}, "10001 children"},
		{"no follow-up", "g", parts("g", 1), nil, "no follow-up"},
		{"invalid follow-up", "g", parts("g", 1), assemble{}, "group: missing"},
	}
	for _, tt := range tests {
		err := g.Start(context.Background(), tt.id, tt.children, tt.followUp)
		if !errors.Is(err, groups.ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: Start = %v, want ErrInvalid saying %q", tt.name, err, tt.want)
		}
	}
}

func TestGroups_MiddlewarePassesJobsOutsideGroupsAndRefusesAStrangerToItsGroup(t *testing.T) {
	g := groups.New(nil, nil, groups.Options{}) // neither case reaches the store
	ran := 0
	h := g.Middleware()(func(ctx context.Context, job jobs.Job) error { ran++; return nil })
	if err := h(consumer.WithDelivery(context.Background(), consumer.Delivery{ID: "j-1"}), part{N: 1}); err != nil || ran != 1 {
		t.Errorf("a job in no group: %v, ran %d times; want it run once", err, ran)
	}
	for _, id := range []string{"other-1", "g-0", "g-01", "g-x", "g-follow-upx", "g", "follow-up"} {
		err := h(consumer.WithDelivery(context.Background(), consumer.Delivery{ID: id, GroupID: "g"}), part{N: 1})
		if !consumer.IsPermanent(err) || !strings.Contains(err.Error(), "neither a child") {
			t.Errorf("job %s of group g: %v, want a permanent error", id, err)
		}
	}
	if ran != 1 {
		t.Errorf("a stranger to its group ran")
	}
}

func TestGroups_IDsAreDerivedFromTheGroup(t *testing.T) {
	long := strings.Repeat("g", jobs.MaxGroupIDBytes)
	for _, id := range []string{groups.ChildID(long, ddb.MaxBatchChildren), groups.FollowUpID(long)} {
		if err := jobs.ValidateJobID(id); err != nil {
			t.Errorf("the longest group's job id %s: %v", id, err)
		}
	}
}

func TestGroups_StartsChildrenWithTheGivenOptionsAndTheirOwnJobIDsAndGroup(t *testing.T) {
	w := newWorld(t)
	capture := &testenv.SQSCapture{}
	q := producer.New(testenv.SQS(t, capture.Option()), w.queue, producer.WithTimeout(30*time.Second))
	g := groups.New(w.store, q, groups.Options{})
	id := w.groupID("tenant")
	children := parts(id, 12) // two SendMessageBatch calls
	// A caller's JobIDs and Group lose to the group's own.
	if err := g.Start(t.Context(), id, children, assemble{Group: id},
		producer.Tenant("buyer-1"), producer.Group("other"), producer.JobIDs(make([]string, 12)...)); err != nil {
		t.Fatal(err)
	}
	tenants := capture.GroupIDs(t)
	for _, c := range children {
		body, _ := jobs.Marshal(c)
		if got := tenants[string(body)]; got != "buyer-1" {
			t.Errorf("child %s went with MessageGroupId %q, want buyer-1", body, got)
		}
	}
	for _, m := range testenv.ReceiveAll(t.Context(), t, w.sqs, w.queue, len(children), 10*time.Second) {
		var p part
		if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &p); err != nil {
			t.Fatal(err)
		}
		if got, want := testenv.Attr(m, jobs.AttrJobID), groups.ChildID(id, p.N); got != want {
			t.Errorf("child %d has job id %q, want %q", p.N, got, want)
		}
		if got := testenv.Attr(m, jobs.AttrGroupID); got != id {
			t.Errorf("child %d has group_id %q, want %q", p.N, got, id)
		}
	}
}
