package producer

import (
	"context"
	"errors"
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
	f := &fakeSQS{t: t, batch: func(_ context.Context, in *sqs.SendMessageBatchInput) (*sqs.SendMessageBatchOutput, error) {
		time.Sleep(2 * time.Millisecond) // a round trip
		return acceptAll(in), nil
	}}
	p := New(f, testQueue, WithBatching(20*time.Millisecond))
	var wg sync.WaitGroup
	ids := make([]string, 50)
	for i := range ids {
		wg.Go(func() {
			id, err := p.Send(t.Context(), jobs.Ping{Message: string(rune('a' + i%26))})
			if err != nil {
				t.Errorf("Send %d: %v", i, err)
			}
			ids[i] = id
		})
	}
	wg.Wait()
	sent := f.entries()
	if len(sent) != 50 || len(f.sent) != 0 {
		t.Fatalf("%d messages in batches, %d single sends; want 50 and 0", len(sent), len(f.sent))
	}
	for i, id := range ids {
		if _, ok := sent[id]; !ok {
			t.Errorf("Send %d returned id %q, which was not sent", i, id)
		}
	}
	if n := len(f.batches); n > 10 {
		t.Errorf("%d SendMessageBatch calls for 50 Sends, want at most 10", n)
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
	p := New(f, testQueue, WithBatching(20*time.Millisecond))
	var outs [8]<-chan sendOutcome
	for i := range outs {
		msg := "bystander"
		if i == 5 {
			msg = "victim"
		}
		outs[i] = sendAsync(t.Context(), p, jobs.Ping{Message: msg})
	}
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
	f := &fakeSQS{t: t}
	p := New(f, testQueue, WithTimeout(time.Minute), WithBatching(20*time.Second))
	start := time.Now()
	var outs [MaxBatchEntries]<-chan sendOutcome
	for i := range outs {
		outs[i] = sendAsync(t.Context(), p, jobs.Ping{})
	}
	for _, c := range outs {
		if o := <-c; o.err != nil {
			t.Fatal(o.err)
		}
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("10 Sends took %v: the full batch waited for its window", took)
	}
	if got := f.batchSizes(); len(got) != 1 || got[0] != 10 {
		t.Errorf("batch sizes %v, want one of 10", got)
	}
}

func TestMicroBatching_SplitsByTheBatchPayloadLimit(t *testing.T) {
	f := &fakeSQS{t: t}
	p := New(f, testQueue, WithMaxBodyBytes(MaxSQSMessageBytes), WithTimeout(10*time.Second), WithBatching(100*time.Millisecond))
	var outs []<-chan sendOutcome
	for i := range 4 {
		outs = append(outs, sendAsync(t.Context(), p, blobOfBody(300_000)))
		waitFor(t, func() bool { return openEntries(p) == i%3+1 }) // join in order
	}
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
	p := New(f, testQueue, WithBatching(200*time.Millisecond))
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
	if o := <-leader; o.err != nil {
		t.Fatal(o.err)
	}
	if got := f.batches; len(got) != 1 || len(got[0]) != 1 || !strings.Contains(*got[0][0].MessageBody, "leader") {
		t.Errorf("sent %v, want only the leader's message", got)
	}
}

func TestMicroBatching_CancelledLeaderHandsTheLeadOn(t *testing.T) {
	f := &fakeSQS{t: t}
	p := New(f, testQueue, WithBatching(200*time.Millisecond))
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
	start := time.Now()
	leaderCtx, cancelLeader := context.WithCancel(t.Context())
	followerCtx, cancelFollower := context.WithCancel(t.Context())
	leader := sendAsync(leaderCtx, p, jobs.Ping{Message: "leader"})
	waitFor(t, func() bool { return openEntries(p) == 1 })
	follower := sendAsync(followerCtx, p, jobs.Ping{Message: "follower"})
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
	if d := callDeadline.Sub(start); d < 9*time.Second || d > 10*time.Second+time.Second {
		t.Errorf("batch call deadline %v after start, want Timeout (10s) from the batch's opening", d)
	}
}

func TestMicroBatching_RefusesBeforeJoiningABatch(t *testing.T) {
	p := New(noNetwork(t), testQueue, WithBatching(time.Millisecond))
	if _, err := p.Send(t.Context(), jobs.MagicLink{}); !errors.Is(err, ErrInvalidJob) {
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
