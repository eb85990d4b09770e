package producer_test

// Tests against the SQS emulator (fauxqs), started by `make test` or
// localstack/with-emulators.sh; without it they skip (see internal/testenv).

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/busywork/busywork/internal/testenv"
	"github.com/busywork/busywork/jobs"
	"github.com/busywork/busywork/producer"
)

// countCalls returns an SDK option counting the client's calls per
// operation (once per call, whatever the retries).
func countCalls(counts map[string]*atomic.Int64) func(*sqs.Options) {
	return func(o *sqs.Options) {
		o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
			return s.Initialize.Add(middleware.InitializeMiddlewareFunc("countCalls",
				func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
					if c := counts[awsmiddleware.GetOperationName(ctx)]; c != nil {
						c.Add(1)
					}
					return next.HandleInitialize(ctx, in)
				}), middleware.Before)
		})
	}
}

// failEntries returns an SDK option that rewrites every SendMessageBatch
// reply as if SQS had refused the entries whose body contains marker: it
// moves them from Successful to Failed with code "InjectedFault". The
// emulator still stored those messages.
func failEntries(marker string) func(*sqs.Options) {
	return func(o *sqs.Options) {
		o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
			return s.Initialize.Add(middleware.InitializeMiddlewareFunc("failEntries",
				func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
					out, md, err := next.HandleInitialize(ctx, in)
					params, ok1 := in.Parameters.(*sqs.SendMessageBatchInput)
					res, ok2 := out.Result.(*sqs.SendMessageBatchOutput)
					if err != nil || !ok1 || !ok2 {
						return out, md, err
					}
					victims := map[string]bool{}
					for _, e := range params.Entries {
						if strings.Contains(aws.ToString(e.MessageBody), marker) {
							victims[aws.ToString(e.Id)] = true
						}
					}
					var kept []types.SendMessageBatchResultEntry
					for _, e := range res.Successful {
						if !victims[aws.ToString(e.Id)] {
							kept = append(kept, e)
							continue
						}
						res.Failed = append(res.Failed, types.BatchResultErrorEntry{
							Id: e.Id, Code: aws.String("InjectedFault"), Message: aws.String("injected by the test"),
						})
					}
					res.Successful = kept
					return out, md, err
				}), middleware.Before)
		})
	}
}

func TestSend_DeliversBodyAndAttributesToSQS(t *testing.T) {
	client := testenv.SQS(t)
	queue, _ := testenv.NewQueue(t, client, testenv.QueueOptions{NoDLQ: true})
	key := []byte("test signing key")
	p := producer.New(client, queue, producer.WithSigningKey(key))

	job := welcome{UserID: "ada"}
	before := time.Now()
	id, err := p.Send(t.Context(), job)
	if err != nil {
		t.Fatal(err)
	}
	msgs := testenv.ReceiveAll(t.Context(), t, client, queue, 1, 5*time.Second)
	m := msgs[0]
	want, _ := jobs.Marshal(job)
	if aws.ToString(m.Body) != string(want) {
		t.Errorf("body %s, want %s", aws.ToString(m.Body), want)
	}
	for name, a := range m.MessageAttributes {
		if aws.ToString(a.DataType) != "String" {
			t.Errorf("attribute %s has data type %q, want String", name, aws.ToString(a.DataType))
		}
	}
	if testenv.Attr(m, jobs.AttrJobType) != "welcome_email" || testenv.Attr(m, jobs.AttrJobID) != id {
		t.Errorf("job_type %q, job_id %q; want welcome_email and %q", testenv.Attr(m, jobs.AttrJobType), testenv.Attr(m, jobs.AttrJobID), id)
	}
	at, err := time.Parse(time.RFC3339Nano, testenv.Attr(m, jobs.AttrEnqueuedAt))
	if err != nil || at.Before(before.Add(-time.Second)) || at.After(time.Now()) {
		t.Errorf("enqueued_at %q: %v", testenv.Attr(m, jobs.AttrEnqueuedAt), err)
	}
	if !jobs.Verify(key, []byte(aws.ToString(m.Body)), testenv.Attr(m, jobs.AttrSignature)) {
		t.Errorf("signature %q does not verify the received body", testenv.Attr(m, jobs.AttrSignature))
	}
	if len(m.MessageAttributes) != 4 {
		t.Errorf("%d message attributes, want 4", len(m.MessageAttributes))
	}
}

func TestSend_DelayKeepsTheMessageInvisibleUntilDue(t *testing.T) {
	client := testenv.SQS(t)
	queue, _ := testenv.NewQueue(t, client, testenv.QueueOptions{NoDLQ: true})
	p := producer.New(client, queue)

	sent := time.Now()
	if _, err := p.Send(t.Context(), jobs.Ping{Message: "later"}, producer.Delay(2*time.Second)); err != nil {
		t.Fatal(err)
	}
	out, err := client.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(queue), WaitTimeSeconds: 1})
	if err != nil {
		t.Fatal(err)
	}
	// SQS took the message after sent, so a message received less than 2 s
	// after sent came early; a slow machine may reach this receive only
	// once the message is due.
	msgs := out.Messages
	if len(msgs) == 0 {
		msgs = testenv.ReceiveAll(t.Context(), t, client, queue, 1, 10*time.Second)
	}
	if took := time.Since(sent); took < 2*time.Second {
		t.Errorf("the message arrived %v after Send, before its 2s delay", took)
	}
	if !strings.Contains(aws.ToString(msgs[0].Body), "later") {
		t.Errorf("received %s", aws.ToString(msgs[0].Body))
	}
}

func TestSendBatch_Delivers25JobsWithDistinctIDsInOrder(t *testing.T) {
	client := testenv.SQS(t)
	queue, _ := testenv.NewQueue(t, client, testenv.QueueOptions{NoDLQ: true})
	p := producer.New(client, queue)

	js := make([]jobs.Job, 25)
	for i := range js {
		js[i] = ticket{OrderID: "o-25", Number: i + 1, Total: len(js)}
	}
	results, err := p.SendBatch(t.Context(), js)
	if err != nil {
		t.Fatal(err)
	}
	bodyByID := map[string]string{}
	for _, m := range testenv.ReceiveAll(t.Context(), t, client, queue, 25, 10*time.Second) {
		bodyByID[testenv.Attr(m, jobs.AttrJobID)] = aws.ToString(m.Body)
	}
	if len(bodyByID) != 25 {
		t.Fatalf("%d distinct job ids received, want 25", len(bodyByID))
	}
	for i, r := range results {
		want, _ := jobs.Marshal(js[i])
		if r.Err != nil || bodyByID[r.JobID] != string(want) {
			t.Errorf("result %d = %+v carried %q, want %s", i, r, bodyByID[r.JobID], want)
		}
	}
}

func TestSendBatch_EntrySQSRefusesFailsOnlyItsOwnJob(t *testing.T) {
	// SQS (and fauxqs) refuse, per entry, a message over the queue's
	// MaximumMessageSize: a real partial failure.
	client := testenv.SQS(t)
	queue, _ := testenv.NewQueue(t, client, testenv.QueueOptions{NoDLQ: true, MaximumMessageSize: 1024})
	p := producer.New(client, queue)

	js := make([]jobs.Job, 12)
	for i := range js {
		js[i] = jobs.Ping{Message: fmt.Sprint("ok ", i)}
	}
	js[3] = jobs.Ping{Message: strings.Repeat("x", 1000)} // over 1024 bytes with its attributes
	results, err := p.SendBatch(t.Context(), js)

	var be *producer.BatchError
	if !errors.As(err, &be) || be.Failed != 1 || be.Total != 12 {
		t.Fatalf("SendBatch error = %v, want 1 of 12 failed", err)
	}
	var ee *producer.EntryError
	if !errors.As(results[3].Err, &ee) || ee.Code == "" || !ee.SenderFault || ee.JobID != results[3].JobID {
		t.Errorf("result 3 error = %#v, want SQS's refusal of its size for its job", results[3].Err)
	}
	for i, r := range results {
		if i != 3 && r.Err != nil {
			t.Errorf("result %d error = %v, want nil", i, r.Err)
		}
	}
	for _, m := range testenv.ReceiveAll(t.Context(), t, client, queue, 11, 10*time.Second) {
		if testenv.Attr(m, jobs.AttrJobID) == results[3].JobID {
			t.Error("the refused job arrived")
		}
	}
}

func TestMicroBatching_50ConcurrentSendsShareBatchCallsOnSQS(t *testing.T) {
	counts := map[string]*atomic.Int64{"SendMessage": {}, "SendMessageBatch": {}}
	client := testenv.SQS(t, countCalls(counts))
	queue, _ := testenv.NewQueue(t, client, testenv.QueueOptions{NoDLQ: true})
	p := producer.New(client, queue, producer.WithTimeout(30*time.Second), producer.WithBatching(20*time.Millisecond))
	producer.ManualBatchWindows(p) // no window ends: only full batches go

	ids := make([]string, 50)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Go(func() {
			id, err := p.Send(t.Context(), jobs.Ping{Message: fmt.Sprint("send ", i)})
			if err != nil {
				t.Errorf("Send %d: %v", i, err)
			}
			ids[i] = id
		})
	}
	wg.Wait()
	batches, singles := counts["SendMessageBatch"].Load(), counts["SendMessage"].Load()
	if batches != 5 || singles != 0 {
		t.Errorf("%d SendMessageBatch and %d SendMessage calls for 50 Sends, want 5 and 0", batches, singles)
	}
	bodyByID := map[string]string{}
	for _, m := range testenv.ReceiveAll(t.Context(), t, client, queue, 50, 10*time.Second) {
		bodyByID[testenv.Attr(m, jobs.AttrJobID)] = aws.ToString(m.Body)
	}
	for i, id := range ids {
		if want := fmt.Sprintf(`{"type":"ping","message":"send %d"}`, i); bodyByID[id] != want {
			t.Errorf("Send %d returned id %q, which carried %q, want %s", i, id, bodyByID[id], want)
		}
	}
}

func TestMicroBatching_InjectedFailedEntryReachesExactlyItsSend(t *testing.T) {
	client := testenv.SQS(t, failEntries("victim"))
	queue, _ := testenv.NewQueue(t, client, testenv.QueueOptions{NoDLQ: true})
	p := producer.New(client, queue, producer.WithTimeout(30*time.Second), producer.WithBatching(20*time.Millisecond))
	producer.ManualBatchWindows(p) // no window ends: the 30 go as 3 full batches

	errs := make([]error, 30)
	ids := make([]string, 30)
	var wg sync.WaitGroup
	for i := range errs {
		msg := "bystander"
		if i == 17 {
			msg = "victim"
		}
		wg.Go(func() { ids[i], errs[i] = p.Send(t.Context(), jobs.Ping{Message: msg}) })
	}
	wg.Wait()
	for i, err := range errs {
		var ee *producer.EntryError
		switch {
		case i == 17 && (!errors.As(err, &ee) || ee.Code != "InjectedFault" || ee.JobID != ids[i]):
			t.Errorf("victim's Send error = %v, want the injected EntryError for job %s", err, ids[i])
		case i != 17 && err != nil:
			t.Errorf("Send %d error = %v, want nil", i, err)
		}
	}
}
