package producer

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/busywork/busywork/jobs"
)

// waitFor waits until cond holds, for at most 5 s.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 5s")
		}
		time.Sleep(time.Millisecond)
	}
}

// openEntries returns how many Sends wait in p's open batch.
func openEntries(p *Producer) int {
	p.batcher.mu.Lock()
	defer p.batcher.mu.Unlock()
	if p.batcher.open == nil {
		return 0
	}
	return len(p.batcher.open.entries)
}

type sendOutcome struct {
	id  string
	err error
}

// sendAsync runs p.Send in a goroutine and returns where its outcome will
// arrive.
func sendAsync(ctx context.Context, p *Producer, job jobs.Job) <-chan sendOutcome {
	c := make(chan sendOutcome, 1)
	go func() {
		id, err := p.Send(ctx, job)
		c <- sendOutcome{id, err}
	}()
	return c
}

func TestMicroBatching_ConcurrentSendsShareBatchCalls(t *testing.T) {
	// 45 concurrent Sends within one window: four batches fill and go at
	// once, the last five go when the window ends.
	f := &fakeSQS{t: t}
	p := New(f, testQueue, WithTimeout(time.Minute), WithBatching(20*time.Millisecond))
	endWindows := ManualBatchWindows(p)
	var wg sync.WaitGroup
	ids := make([]string, 45)
	for i := range ids {
		wg.Go(func() {
			id, err := p.Send(t.Context(), jobs.Ping{Message: string(rune('a' + i%26))})
			if err != nil {
				t.Errorf("Send %d: %v", i, err)
			}
			ids[i] = id
		})
	}
	waitFor(t, func() bool { return len(f.batchSizes()) == 4 && openEntries(p) == 5 })
	endWindows()
	wg.Wait()
	sent := f.entries()
	if len(sent) != 45 || len(f.sent) != 0 {
		t.Fatalf("%d messages in batches, %d single sends; want 45 and 0", len(sent), len(f.sent))
	}
	for i, id := range ids {
		if _, ok := sent[id]; !ok {
			t.Errorf("Send %d returned id %q, which was not sent", i, id)
		}
	}
	if got := f.batchSizes(); !slices.Equal(got, []int{10, 10, 10, 10, 5}) {
		t.Errorf("SendMessageBatch sizes %v for 45 Sends, want 10, 10, 10, 10 and 5", got)
	}
}

func TestMicroBatching_FailedEntryReachesOnlyItsOwnSend(t *testing.T) {
	f := &fakeSQS{t: t, batch: func(_ context.Context, in *sqs.SendMessageBatchInput) (*sqs.SendMessageBatchOutput, error) {
		out := &sqs.SendMessageBatchOutput{}
		for _, e := range in.Entries {
			if strings.Contains(*e.MessageBody, "victim") {
				out.Failed = append(out.Failed, types.BatchResultErrorEntry{Id: e.Id, Code: aws.String("InternalError"), Message: aws.String("try again")})
			} else {
				out.Successful = append(out.Successful, types.SendMessageBatchResultEntry{Id: e.Id})
			}
		}
		return out, nil
	}}
	p := New(f, testQueue, WithTimeout(time.Minute), WithBatching(20*time.Millisecond))
	endWindows := ManualBatchWindows(p)
	var outs [8]<-chan sendOutcome
	for i := range outs {
		msg := "bystander"
		if i == 5 {
			msg = "victim"
		}
		outs[i] = sendAsync(t.Context(), p, jobs.Ping{Message: msg})
	}
	waitFor(t, func() bool { return openEntries(p) == len(outs) })
	endWindows()
	for i, c := range outs {
		o := <-c
		var ee *EntryError
		if i == 5 != errors.As(o.err, &ee) {
			t.Errorf("Send %d error = %v", i, o.err)
		}
		if i == 5 && (ee.Code != "InternalError" || ee.JobID != o.id || o.id == "") {
			t.Errorf("victim's error %#v, id %q", ee, o.id)
		}
	}
	if len(f.batches) != 1 {
		t.Errorf("%d calls, want the 8 Sends in one", len(f.batches))
	}
}

func TestMicroBatching_TenthJoinerSendsTheBatchAtOnce(t *testing.T) {
	// The window never ends: only a full batch can be sent. Were it to wait
	// for its window, the Sends would fail at their Timeout.
	f := &fakeSQS{t: t}
	p := New(f, testQueue, WithTimeout(time.Minute), WithBatching(20*time.Second))
	ManualBatchWindows(p)
	var outs [MaxBatchEntries]<-chan sendOutcome
	for i := range outs {
		outs[i] = sendAsync(t.Context(), p, jobs.Ping{})
	}
	for _, c := range outs {
		if o := <-c; o.err != nil {
			t.Fatalf("Send = %v: the full batch waited for its window", o.err)
		}
	}
	if got := f.batchSizes(); len(got) != 1 || got[0] != 10 {
		t.Errorf("batch sizes %v, want one of 10", got)
	}
}

func TestMicroBatching_SplitsByTheBatchPayloadLimit(t *testing.T) {
	f := &fakeSQS{t: t}
	p := New(f, testQueue, WithMaxBodyBytes(MaxSQSMessageBytes), WithTimeout(time.Minute), WithBatching(100*time.Millisecond))
	endWindows := ManualBatchWindows(p)
	var outs []<-chan sendOutcome
	for i := range 4 {
		outs = append(outs, sendAsync(t.Context(), p, blobOfBody(300_000)))
		waitFor(t, func() bool { return openEntries(p) == i%3+1 }) // join in order
	}
	// The fourth did not fit: the first three went without their window.
	waitFor(t, func() bool { return len(f.batchSizes()) == 1 })
	endWindows()
	for _, c := range outs {
		if o := <-c; o.err != nil {
			t.Fatal(o.err)
		}
	}
	if got := f.batchSizes(); len(got) != 2 || got[0] != 3 || got[1] != 1 {
		t.Errorf("batch sizes %v, want 3 then 1 (four 300 KB messages exceed 1 MiB)", got)
	}
}

func TestMicroBatching_FollowerCancelledBeforeTheBatchLeavesIsNotSent(t *testing.T) {
	f := &fakeSQS{t: t}
	p := New(f, testQueue, WithTimeout(time.Minute), WithBatching(200*time.Millisecond))
	endWindows := ManualBatchWindows(p)
	leader := sendAsync(t.Context(), p, jobs.Ping{Message: "leader"})
	waitFor(t, func() bool { return openEntries(p) == 1 })
	ctx, cancel := context.WithCancel(t.Context())
	follower := sendAsync(ctx, p, jobs.Ping{Message: "follower"})
	waitFor(t, func() bool { return openEntries(p) == 2 })
	cancel()
	o := <-follower
	if !errors.Is(o.err, context.Canceled) || o.id != "" {
		t.Fatalf("follower = %q, %v; want no id and context.Canceled", o.id, o.err)
	}
	endWindows()
	if o := <-leader; o.err != nil {
		t.Fatal(o.err)
	}
	if got := f.batches; len(got) != 1 || len(got[0]) != 1 || !strings.Contains(*got[0][0].MessageBody, "leader") {
		t.Errorf("sent %v, want only the leader's message", got)
	}
}

func TestMicroBatching_CancelledLeaderHandsTheLeadOn(t *testing.T) {
	f := &fakeSQS{t: t}
	p := New(f, testQueue, WithTimeout(time.Minute), WithBatching(200*time.Millisecond))
	endWindows := ManualBatchWindows(p)
	ctx, cancel := context.WithCancel(t.Context())
	leader := sendAsync(ctx, p, jobs.Ping{Message: "leader"})
	waitFor(t, func() bool { return openEntries(p) == 1 })
	var followers [3]<-chan sendOutcome
	for i := range followers {
		followers[i] = sendAsync(t.Context(), p, jobs.Ping{Message: "follower"})
	}
	waitFor(t, func() bool { return openEntries(p) == 4 })
	cancel()
	if o := <-leader; !errors.Is(o.err, context.Canceled) || o.id != "" {
		t.Fatalf("leader = %q, %v; want no id and context.Canceled", o.id, o.err)
	}
	endWindows() // the new leader waits out the same window
	for _, c := range followers {
		if o := <-c; o.err != nil || o.id == "" {
			t.Fatalf("follower = %q, %v; want sent", o.id, o.err)
		}
	}
	if got := f.batchSizes(); len(got) != 1 || got[0] != 3 {
		t.Errorf("batch sizes %v, want the 3 followers in one call", got)
	}
}

func TestMicroBatching_LeadersCallOutlivesItsCallersContext(t *testing.T) {
	called, release := make(chan struct{}), make(chan struct{})
	var callErr error
	var callDeadline time.Time
	f := &fakeSQS{t: t, batch: func(ctx context.Context, in *sqs.SendMessageBatchInput) (*sqs.SendMessageBatchOutput, error) {
		close(called)
		<-release
		callErr = ctx.Err()
		callDeadline, _ = ctx.Deadline()
		return acceptAll(in), nil
	}}
	p := New(f, testQueue, WithTimeout(10*time.Second), WithBatching(50*time.Millisecond))
	endWindows := ManualBatchWindows(p)
	leaderCtx, cancelLeader := context.WithCancel(t.Context())
	followerCtx, cancelFollower := context.WithCancel(t.Context())
	leader := sendAsync(leaderCtx, p, jobs.Ping{Message: "leader"})
	waitFor(t, func() bool { return openEntries(p) == 1 })
	p.batcher.mu.Lock()
	opened := p.batcher.open.opened
	p.batcher.mu.Unlock()
	follower := sendAsync(followerCtx, p, jobs.Ping{Message: "follower"})
	waitFor(t, func() bool { return openEntries(p) == 2 })
	endWindows()
	<-called // the batch has left with both messages

	cancelFollower()
	if o := <-follower; !errors.Is(o.err, context.Canceled) || o.id == "" {
		t.Errorf("follower = %q, %v; want its id (it may be enqueued) and context.Canceled at once", o.id, o.err)
	}
	cancelLeader()
	close(release)
	if o := <-leader; o.err != nil || o.id == "" {
		t.Errorf("leader = %q, %v; want its real outcome, sent", o.id, o.err)
	}
	if callErr != nil {
		t.Errorf("the batch call's ctx ended with its caller: %v", callErr)
	}
	if want := opened.Add(10 * time.Second); !callDeadline.Equal(want) {
		t.Errorf("batch call deadline %v, want Timeout (10s) from the batch's opening, %v", callDeadline, want)
	}
}

func TestMicroBatching_RefusesBeforeJoiningABatch(t *testing.T) {
	p := New(noNetwork(t), testQueue, WithBatching(time.Millisecond))
	if _, err := p.Send(t.Context(), welcome{}); !errors.Is(err, ErrInvalidJob) {
		t.Errorf("Send error = %v, want ErrInvalidJob", err)
	}
	if openEntries(p) != 0 {
		t.Error("an invalid job joined a batch")
	}
}

func TestMicroBatching_StressRaceFree(t *testing.T) {
	// Sends with random cancellations must each end with a verdict, and
	// every message sent must belong to a Send that did not withdraw it.
	f := &fakeSQS{t: t}
	p := New(f, testQueue, WithBatching(time.Millisecond))
	var wg sync.WaitGroup
	var mu sync.Mutex
	withdrawn := map[int]bool{}
	for i := range 400 {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(t.Context(), time.Duration(i%7)*300*time.Microsecond)
			defer cancel()
			id, err := p.Send(ctx, jobs.Ping{Message: string(rune('A' + i%26))})
			if err != nil && !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Send %d: %v", i, err)
			}
			if err != nil && id == "" {
				mu.Lock()
				withdrawn[i] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if n := len(f.entries()); n+len(withdrawn) != 400 {
		t.Errorf("%d sent + %d withdrawn, want 400", n, len(withdrawn))
	}
}
