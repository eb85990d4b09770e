package producer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/busywork/busywork/jobs"
)

func tickets(n int) []jobs.Job {
	js := make([]jobs.Job, n)
	for i := range js {
		js[i] = ticket{OrderID: "o1", Number: i + 1, Total: n}
	}
	return js
}

// checkResultsMatchSent checks that each accepted job's Result.JobID is the
// job_id of the entry that carried that job's body.
func checkResultsMatchSent(t *testing.T, f *fakeSQS, js []jobs.Job, results []Result) {
	t.Helper()
	sent := f.entries()
	for i, r := range results {
		if r.Err != nil {
			continue
		}
		e, ok := sent[r.JobID]
		want, _ := jobs.Marshal(js[i])
		if !ok || aws.ToString(e.MessageBody) != string(want) {
			t.Errorf("result %d: job id %s carried %s, want %s", i, r.JobID, aws.ToString(e.MessageBody), want)
		}
	}
}

func TestPlanChunks(t *testing.T) {
	const MiB = MaxSQSMessageBytes
	tests := []struct {
		name  string
		sizes []int
		want  []span
	}{
		{"one", []int{100}, []span{{0, 1}}},
		{"ten fit one call", slices.Repeat([]int{100}, 10), []span{{0, 10}}},
		{"25 by count", slices.Repeat([]int{100}, 25), []span{{0, 10}, {10, 20}, {20, 25}}},
		{"300 KB by payload", slices.Repeat([]int{300_000}, 10), []span{{0, 3}, {3, 6}, {6, 9}, {9, 10}}},
		{"exactly 1 MiB fits", []int{MiB / 2, MiB / 2, 1}, []span{{0, 2}, {2, 3}}},
		{"one byte over", []int{MiB / 2, MiB/2 + 1}, []span{{0, 1}, {1, 2}}},
		{"1 MiB messages alone", []int{MiB, MiB, 10}, []span{{0, 1}, {1, 2}, {2, 3}}},
		{"mixed", []int{10, MiB - 10, 5, 5}, []span{{0, 2}, {2, 4}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msgs := make([]*message, len(tt.sizes))
			for i, s := range tt.sizes {
				msgs[i] = &message{size: s}
			}
			if got := planChunks(msgs); !slices.Equal(got, tt.want) {
				t.Fatalf("planChunks(%v) = %v, want %v", tt.sizes, got, tt.want)
			}
		})
	}
}

func TestSendBatch_Sends25JobsAs10Plus10Plus5InOrder(t *testing.T) {
	f := &fakeSQS{t: t}
	js := tickets(25)
	results, err := New(f, testQueue).SendBatch(t.Context(), js)
	if err != nil {
		t.Fatal(err)
	}
	sizes := f.batchSizes()
	slices.Sort(sizes)
	if !slices.Equal(sizes, []int{5, 10, 10}) {
		t.Fatalf("batch sizes %v, want 10, 10 and 5", sizes)
	}
	if len(results) != 25 || len(f.entries()) != 25 {
		t.Fatalf("%d results, %d distinct job ids sent; want 25 and 25", len(results), len(f.entries()))
	}
	checkResultsMatchSent(t, f, js, results)
	if len(f.sent) != 0 {
		t.Errorf("%d SendMessage calls, want none", len(f.sent))
	}
}

func TestSendBatch_SplitsBigBodiesByTheBatchPayloadLimit(t *testing.T) {
	f := &fakeSQS{t: t}
	js := make([]jobs.Job, 10)
	for i := range js {
		js[i] = blobOfBody(300_000)
	}
	results, err := New(f, testQueue, WithMaxBodyBytes(MaxSQSMessageBytes)).SendBatch(t.Context(), js)
	if err != nil {
		t.Fatal(err)
	}
	sizes := f.batchSizes()
	slices.Sort(sizes)
	if !slices.Equal(sizes, []int{1, 3, 3, 3}) {
		t.Errorf("batch sizes %v, want 3, 3, 3 and 1", sizes)
	}
	for _, b := range f.batches {
		total := 0
		for _, e := range b {
			total += len(aws.ToString(e.MessageBody))
			for name, a := range e.MessageAttributes {
				total += len(name) + len(aws.ToString(a.DataType)) + len(aws.ToString(a.StringValue))
			}
		}
		if total > MaxSQSMessageBytes {
			t.Errorf("a call carried %d bytes, over SQS's %d", total, MaxSQSMessageBytes)
		}
	}
	checkResultsMatchSent(t, f, js, results)
}

func TestSendBatch_InvalidJobFailsOnlyItsOwnResult(t *testing.T) {
	f := &fakeSQS{t: t}
	js := []jobs.Job{jobs.Ping{}, welcome{UserID: "Ada!"}, jobs.Ping{}, blobOfBody(DefaultMaxBodyBytes + 1), jobs.Ping{}}
	results, err := New(f, testQueue).SendBatch(t.Context(), js)

	var be *BatchError
	if !errors.As(err, &be) || be.Failed != 2 || be.Total != 5 || !strings.Contains(err.Error(), "2 of 5 jobs") {
		t.Fatalf("SendBatch error = %v, want a *BatchError for 2 of 5 jobs", err)
	}
	if !errors.Is(err, ErrInvalidJob) || !errors.Is(err, ErrTooLarge) {
		t.Errorf("error %v does not wrap both causes", err)
	}
	if !errors.Is(results[1].Err, ErrInvalidJob) || results[1].JobID != "" {
		t.Errorf("result 1 = %+v, want ErrInvalidJob and no id", results[1])
	}
	if !errors.Is(results[3].Err, ErrTooLarge) || results[3].JobID != "" {
		t.Errorf("result 3 = %+v, want ErrTooLarge and no id", results[3])
	}
	for _, i := range []int{0, 2, 4} {
		if results[i].Err != nil || results[i].JobID == "" {
			t.Errorf("result %d = %+v, want sent", i, results[i])
		}
	}
	if got := f.batchSizes(); !slices.Equal(got, []int{3}) {
		t.Errorf("batch sizes %v, want one call of the 3 valid jobs", got)
	}
	checkResultsMatchSent(t, f, js, results)
}

func TestSendBatch_BadDelayFailsEveryJobBeforeAnyNetworkCall(t *testing.T) {
	results, err := New(noNetwork(t), testQueue).SendBatch(t.Context(), tickets(3), Delay(-1))
	if !errors.Is(err, ErrInvalidDelay) || len(results) != 3 {
		t.Fatalf("SendBatch = %d results, %v; want 3 results and ErrInvalidDelay", len(results), err)
	}
	for i, r := range results {
		if !errors.Is(r.Err, ErrInvalidDelay) {
			t.Errorf("result %d error = %v, want ErrInvalidDelay", i, r.Err)
		}
	}
}

func TestSendBatch_MapsEachFailedEntryToItsOwnJob(t *testing.T) {
	// SQS answers for entries by Id: entry 3 of the first call is refused,
	// entry 5 is missing from the reply altogether, the rest succeed.
	f := &fakeSQS{t: t, batch: func(_ context.Context, in *sqs.SendMessageBatchInput) (*sqs.SendMessageBatchOutput, error) {
		out := acceptAll(in)
		if len(in.Entries) != 10 {
			return out, nil
		}
		out.Successful = slices.DeleteFunc(out.Successful, func(e types.SendMessageBatchResultEntry) bool {
			return *e.Id == "3" || *e.Id == "5"
		})
		out.Failed = []types.BatchResultErrorEntry{{Id: aws.String("3"), Code: aws.String("InvalidMessageContents"), Message: aws.String("Invalid characters found."), SenderFault: true}}
		return out, nil
	}}
	results, err := New(f, testQueue).SendBatch(t.Context(), tickets(12))
	var be *BatchError
	if !errors.As(err, &be) || be.Failed != 2 {
		t.Fatalf("SendBatch error = %v, want 2 failures", err)
	}
	var ee *EntryError
	if !errors.As(results[3].Err, &ee) || ee.Code != "InvalidMessageContents" || !ee.SenderFault || ee.JobID != results[3].JobID || ee.JobType != "ticket" {
		t.Errorf("result 3 error = %#v, want SQS's code for job %s", results[3].Err, results[3].JobID)
	}
	if results[5].Err == nil || !strings.Contains(results[5].Err.Error(), "neither") {
		t.Errorf("result 5 error = %v, want an error for a job SQS did not answer for", results[5].Err)
	}
	for i, r := range results {
		if i != 3 && i != 5 && r.Err != nil {
			t.Errorf("result %d error = %v, want nil", i, r.Err)
		}
	}
}

func TestSendBatch_WholeCallErrorFailsOnlyThatCallsJobs(t *testing.T) {
	boom := errors.New("connection reset")
	f := &fakeSQS{t: t, batch: func(_ context.Context, in *sqs.SendMessageBatchInput) (*sqs.SendMessageBatchOutput, error) {
		if strings.Contains(*in.Entries[0].MessageBody, `"ticket_number":11,`) {
			return nil, boom
		}
		return acceptAll(in), nil
	}}
	results, err := New(f, testQueue).SendBatch(t.Context(), tickets(25))
	var be *BatchError
	if !errors.As(err, &be) || be.Failed != 10 || !errors.Is(err, boom) {
		t.Fatalf("SendBatch error = %v, want 10 failures wrapping the call's error", err)
	}
	for i, r := range results {
		inFailedCall := i >= 10 && i < 20
		if inFailedCall != (r.Err != nil) || r.JobID == "" {
			t.Errorf("result %d = %+v, want failed: %v, with its id", i, r, inFailedCall)
		}
		if inFailedCall && !strings.Contains(r.Err.Error(), fmt.Sprintf("ticket job %s", r.JobID)) {
			t.Errorf("result %d error %q does not name its job", i, r.Err)
		}
	}
}

func TestSendBatch_BoundsParallelCalls(t *testing.T) {
	release := make(chan struct{})
	f := &fakeSQS{t: t, batch: func(_ context.Context, in *sqs.SendMessageBatchInput) (*sqs.SendMessageBatchOutput, error) {
		<-release
		return acceptAll(in), nil
	}}
	done := make(chan error)
	go func() {
		_, err := New(f, testQueue).SendBatch(context.Background(), tickets(200))
		done <- err
	}()
	waitFor(t, func() bool { f.mu.Lock(); defer f.mu.Unlock(); return f.inFlight == maxParallelBatchCalls })
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if f.maxInFlight != maxParallelBatchCalls || len(f.batches) != 20 {
		t.Errorf("%d calls, at most %d at once; want 20 calls, %d at once", len(f.batches), f.maxInFlight, maxParallelBatchCalls)
	}
}

func TestSendBatch_EmptyInputSendsNothing(t *testing.T) {
	results, err := New(noNetwork(t), testQueue).SendBatch(t.Context(), nil)
	if err != nil || len(results) != 0 {
		t.Fatalf("SendBatch(nil) = %v, %v", results, err)
	}
}
