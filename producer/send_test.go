package producer

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/busywork/busywork/jobs"
)

const testQueue = "http://127.0.0.1:1/000000000000/test"

func TestSend_RefusesInvalidJobBeforeAnyNetworkCall(t *testing.T) {
	tests := []struct {
		name string
		job  jobs.Job
		want []string // substrings of the error
	}{
		{"nil job", nil, []string{"nil job"}},
		{"failed validation", welcome{}, []string{"welcome_email job", "user_id: missing"}},
		{"two problems", ticket{Number: 2, Total: 1}, []string{"ticket job", "order_id: missing", "ticket_number: 2"}},
		{"fields not an object", list{1}, []string{"list job", "not an object"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := New(noNetwork(t), testQueue)
			id, err := p.Send(t.Context(), tt.job)
			if !errors.Is(err, ErrInvalidJob) {
				t.Fatalf("Send error = %v, want ErrInvalidJob", err)
			}
			if id != "" {
				t.Errorf("jobID = %q, want empty for a job never sent", id)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestSend_RefusesOversizedBodyBeforeAnyNetworkCall(t *testing.T) {
	p := New(noNetwork(t), testQueue)
	_, err := p.Send(t.Context(), blobOfBody(DefaultMaxBodyBytes+1))
	var tl *TooLargeError
	if !errors.As(err, &tl) || !errors.Is(err, ErrTooLarge) {
		t.Fatalf("Send error = %v, want a *TooLargeError wrapping ErrTooLarge", err)
	}
	if tl.JobType != "blob" || tl.Limit != DefaultMaxBodyBytes || tl.Body != DefaultMaxBodyBytes+1 || tl.Size <= tl.Body {
		t.Errorf("TooLargeError = %+v, want job type blob, body %d, limit %d and attributes counted", tl, DefaultMaxBodyBytes+1, DefaultMaxBodyBytes)
	}
	if !strings.Contains(err.Error(), "blob job") || !strings.Contains(err.Error(), "262144") {
		t.Errorf("error %q names neither the job type nor the limit", err)
	}
}

func TestSend_CountsAttributesAgainstTheLimitAsSQSDoes(t *testing.T) {
	const limit = 2048
	// A body of exactly the limit fits on its own but not with the
	// attributes SQS counts: name, data type and value of each.
	p := New(noNetwork(t), testQueue, WithMaxBodyBytes(limit))
	_, err := p.Send(t.Context(), blobOfBody(limit))
	var tl *TooLargeError
	if !errors.As(err, &tl) {
		t.Fatalf("Send error = %v, want *TooLargeError", err)
	}
	// job_type+String+blob, job_id+String+26, enqueued_at+String+(20..30)
	if min, max := limit+8+6+4+6+6+26+11+6+20, limit+8+6+4+6+6+26+11+6+30; tl.Size < min || tl.Size > max {
		t.Errorf("Size = %d, want between %d and %d", tl.Size, min, max)
	}

	f := &fakeSQS{t: t}
	p = New(f, testQueue, WithMaxBodyBytes(limit))
	if _, err := p.Send(t.Context(), blobOfBody(limit-200)); err != nil {
		t.Fatalf("Send of a body 200 bytes under the limit: %v", err)
	}
}

func TestSend_JobIDSetsTheJobIDAttributeAndIsChecked(t *testing.T) {
	f := &fakeSQS{t: t}
	p := New(f, testQueue)
	id, err := p.Send(t.Context(), welcome{UserID: "ada"}, JobID("welcome-ada"))
	if err != nil || id != "welcome-ada" {
		t.Fatalf("Send with JobID = %q, %v", id, err)
	}
	if got := aws.ToString(f.sent[0].MessageAttributes[jobs.AttrJobID].StringValue); got != "welcome-ada" {
		t.Fatalf("job_id attribute = %q", got)
	}
	if _, err := New(noNetwork(t), testQueue).Send(t.Context(), jobs.Ping{}, JobID("no spaces")); !errors.Is(err, ErrInvalidJob) {
		t.Fatalf("Send with a bad JobID: %v, want ErrInvalidJob", err)
	}
	if _, err := New(noNetwork(t), testQueue).SendBatch(t.Context(), []jobs.Job{jobs.Ping{}, jobs.Ping{}}, JobID("one")); !errors.Is(err, ErrInvalidJob) {
		t.Fatalf("SendBatch of two jobs with one JobID: %v, want ErrInvalidJob", err)
	}
}

func TestSend_SendsDelayInWholeSecondsRoundedUpToAtMost15Minutes(t *testing.T) {
	for d, want := range map[time.Duration]int32{0: 0, time.Nanosecond: 1, 1500 * time.Millisecond: 2, time.Minute: 60, MaxSQSDelay: 900,
		MaxSQSDelay + time.Second: 900, 2 * time.Hour: 900, MaxDelay: 900} {
		f := &fakeSQS{t: t}
		if _, err := New(f, testQueue).Send(t.Context(), jobs.Ping{}, Delay(d)); err != nil {
			t.Fatalf("Delay(%v): %v", d, err)
		}
		if got := f.sent[0].DelaySeconds; got != want {
			t.Errorf("Delay(%v) sent DelaySeconds %d, want %d", d, got, want)
		}
	}
}

func TestSend_SetsBodyAndAttributes(t *testing.T) {
	key := []byte("k")
	f := &fakeSQS{t: t}
	p := New(f, testQueue, WithSigningKey(key))
	job := welcome{UserID: "ada"}
	before := time.Now()
	id1, err1 := p.Send(t.Context(), job)
	id2, err2 := p.Send(t.Context(), job)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	if id1 == "" || id1 == id2 {
		t.Fatalf("job ids %q and %q, want two distinct ids", id1, id2)
	}
	in := f.sent[0]
	want, _ := jobs.Marshal(job)
	if aws.ToString(in.QueueUrl) != testQueue || aws.ToString(in.MessageBody) != string(want) {
		t.Fatalf("sent %s to %s, want %s to %s", aws.ToString(in.MessageBody), aws.ToString(in.QueueUrl), want, testQueue)
	}
	attr := func(name string) string {
		a, ok := in.MessageAttributes[name]
		if !ok || aws.ToString(a.DataType) != "String" {
			t.Fatalf("attribute %s = %+v, want a String", name, a)
		}
		return aws.ToString(a.StringValue)
	}
	if attr(jobs.AttrJobType) != "welcome_email" || attr(jobs.AttrJobID) != id1 {
		t.Errorf("job_type %q, job_id %q; want welcome_email, %q", attr(jobs.AttrJobType), attr(jobs.AttrJobID), id1)
	}
	at, err := time.Parse(time.RFC3339Nano, attr(jobs.AttrEnqueuedAt))
	if err != nil || at.Location() != time.UTC || at.Before(before.Add(-time.Second)) || at.After(time.Now()) {
		t.Errorf("enqueued_at %q (%v), want an RFC3339Nano UTC time of now", attr(jobs.AttrEnqueuedAt), err)
	}
	if !jobs.Verify(key, want, attr(jobs.AttrSignature)) {
		t.Errorf("signature %q does not verify", attr(jobs.AttrSignature))
	}
	if len(in.MessageAttributes) != 4 {
		t.Errorf("%d attributes, want 4", len(in.MessageAttributes))
	}
}

func TestSend_WithoutSigningKeySetsNoSignature(t *testing.T) {
	f := &fakeSQS{t: t}
	if _, err := New(f, testQueue).Send(t.Context(), jobs.Ping{}); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.sent[0].MessageAttributes[jobs.AttrSignature]; ok || len(f.sent[0].MessageAttributes) != 3 {
		t.Errorf("attributes %v, want job_type, job_id and enqueued_at only", f.sent[0].MessageAttributes)
	}
}

func TestSend_GivesUpAtTimeoutWhenSQSHangs(t *testing.T) {
	var called, deadline time.Time
	f := &fakeSQS{t: t, single: func(ctx context.Context, _ *sqs.SendMessageInput) (*sqs.SendMessageOutput, error) {
		called = time.Now()
		deadline, _ = ctx.Deadline()
		<-ctx.Done() // an SQS that never answers, as the SDK's retries would see it
		return nil, ctx.Err()
	}}
	const timeout = 50 * time.Millisecond
	p := New(f, testQueue, WithTimeout(timeout))
	start := time.Now()
	id, err := p.Send(context.Background(), jobs.Ping{})
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "ping job "+id) {
		t.Fatalf("Send error = %v, want DeadlineExceeded naming the ping job %s", err, id)
	}
	if id == "" {
		t.Error("jobID empty: a timed-out job may have been enqueued, its id must be returned")
	}
	// The caller set no deadline: the one SQS saw is Timeout from the Send.
	if deadline.Before(start.Add(timeout)) || deadline.After(called.Add(timeout)) {
		t.Errorf("SQS call deadline %v after the Send's start, want Timeout (%v)", deadline.Sub(start), timeout)
	}
}

func TestNew_FillsDefaultsAndClampsOptions(t *testing.T) {
	o := New(noNetwork(t), testQueue).Options()
	if o.MaxBodyBytes != DefaultMaxBodyBytes || o.Timeout != DefaultTimeout || o.BatchWindow != 0 || o.SigningKey != nil {
		t.Errorf("defaults = %+v", o)
	}
	o = New(noNetwork(t), testQueue, WithMaxBodyBytes(2<<20), WithTimeout(100*time.Millisecond), WithBatching(time.Second)).Options()
	if o.MaxBodyBytes != MaxSQSMessageBytes || o.BatchWindow != 50*time.Millisecond {
		t.Errorf("MaxBodyBytes %d, BatchWindow %v; want %d and half the timeout", o.MaxBodyBytes, o.BatchWindow, MaxSQSMessageBytes)
	}
	key := []byte("secret")
	p := New(noNetwork(t), testQueue, WithSigningKey(key))
	key[0] = 'X'
	if string(p.Options().SigningKey) != "secret" {
		t.Error("New did not copy the signing key")
	}
}
