package producer

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/busywork/busywork/jobs"
)

const testParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

type spanKey struct{}

// fakeTracer is a Tracer that records the sends it traces and how they
// ended, and gives every message parent.
type fakeTracer struct {
	parent string
	sends  []TracedSend
	ends   []error
}

func (f *fakeTracer) trace(ctx context.Context, s TracedSend) (context.Context, string, func(error)) {
	f.sends = append(f.sends, s)
	return context.WithValue(ctx, spanKey{}, "send span"), f.parent, func(err error) { f.ends = append(f.ends, err) }
}

func TestSend_WithoutATracerAMessageCarriesNoTraceContext(t *testing.T) {
	fake := &fakeSQS{t: t}
	if _, err := New(fake, testQueue).Send(t.Context(), welcome{UserID: "ada"}); err != nil {
		t.Fatal(err)
	}
	if _, ok := fake.sent[0].MessageAttributes[jobs.AttrTraceParent]; ok {
		t.Fatalf("attributes %v carry a traceparent without a Tracer", fake.sent[0].MessageAttributes)
	}
}

func TestSend_TheTracersContextGoesOnTheMessageAndItsEndGetsTheOutcome(t *testing.T) {
	refused := errors.New("refused")
	for _, fail := range []bool{false, true} {
		tr := &fakeTracer{parent: testParent}
		var callCtx any
		fake := &fakeSQS{t: t, single: func(ctx context.Context, _ *sqs.SendMessageInput) (*sqs.SendMessageOutput, error) {
			callCtx = ctx.Value(spanKey{})
			if fail {
				return nil, refused
			}
			return &sqs.SendMessageOutput{MessageId: aws.String("m")}, nil
		}}
		id, err := New(fake, testQueue, WithTracer(tr.trace)).Send(t.Context(), welcome{UserID: "ada"})
		if fail != (err != nil) {
			t.Fatalf("fail %t: Send error %v", fail, err)
		}
		want := TracedSend{QueueURL: testQueue, JobType: "welcome_email", JobIDs: []string{id}}
		if len(tr.sends) != 1 || tr.sends[0].QueueURL != want.QueueURL || tr.sends[0].JobType != want.JobType || tr.sends[0].JobIDs[0] != id {
			t.Errorf("fail %t: traced %+v, want %+v", fail, tr.sends, want)
		}
		if callCtx != "send span" {
			t.Errorf("fail %t: SendMessage ran under %v, want the Tracer's context", fail, callCtx)
		}
		if got := aws.ToString(fake.sent[0].MessageAttributes[jobs.AttrTraceParent].StringValue); got != testParent {
			t.Errorf("fail %t: traceparent %q, want %q", fail, got, testParent)
		}
		if len(tr.ends) != 1 || errors.Is(tr.ends[0], refused) != fail {
			t.Errorf("fail %t: ended %v, want once with the send's error", fail, tr.ends)
		}
	}
}

func TestSendBatch_OneTraceForTheCallAndEveryMessageCarriesIt(t *testing.T) {
	tr := &fakeTracer{parent: testParent}
	fake := &fakeSQS{t: t}
	js := []jobs.Job{welcome{UserID: "ada"}, ticket{OrderID: "o", Number: 1, Total: 1}, welcome{}}
	results, err := New(fake, testQueue, WithTracer(tr.trace)).SendBatch(t.Context(), js)
	if err == nil {
		t.Fatal("SendBatch of an invalid job: no error")
	}
	if len(tr.sends) != 1 || tr.sends[0].JobType != "" || len(tr.sends[0].JobIDs) != 2 ||
		tr.sends[0].JobIDs[0] != results[0].JobID || tr.sends[0].JobIDs[1] != results[1].JobID {
		t.Fatalf("traced %+v, want one send of the two valid jobs of two types", tr.sends)
	}
	for id, e := range fake.entries() {
		if got := aws.ToString(e.MessageAttributes[jobs.AttrTraceParent].StringValue); got != testParent {
			t.Errorf("job %s: traceparent %q, want %q", id, got, testParent)
		}
	}
	if len(tr.ends) != 1 || tr.ends[0] == nil {
		t.Errorf("ended %v, want once with the batch's error", tr.ends)
	}
}

func TestSend_ATraceContextThatIsNoTraceparentIsNotSent(t *testing.T) {
	for _, parent := range []string{"", "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"} {
		fake := &fakeSQS{t: t}
		tr := &fakeTracer{parent: parent}
		if _, err := New(fake, testQueue, WithTracer(tr.trace)).Send(t.Context(), welcome{UserID: "ada"}); err != nil {
			t.Fatal(err)
		}
		if v, ok := fake.sent[0].MessageAttributes[jobs.AttrTraceParent]; ok {
			t.Errorf("Tracer gave %q: the message carries %q, want nothing", parent, aws.ToString(v.StringValue))
		}
	}
}

func TestSend_MaxBodyBytesKeepsRoomForTheTraceContext(t *testing.T) {
	const limit = 1000
	// largest sends the largest blob p takes, and returns its body's size
	// and what was sent.
	largest := func(p *Producer, fake *fakeSQS) (int, *sqs.SendMessageInput) {
		t.Helper()
		for n := limit; n > 0; n-- {
			if _, err := p.Send(t.Context(), blobOfBody(n)); err == nil {
				return n, fake.sent[len(fake.sent)-1]
			} else if !errors.Is(err, ErrTooLarge) {
				t.Fatal(err)
			}
		}
		t.Fatal("no body fits")
		return 0, nil
	}
	tr, fake := &fakeTracer{parent: testParent}, &fakeSQS{t: t}
	traced, sent := largest(New(fake, testQueue, WithMaxBodyBytes(limit), WithTracer(tr.trace)), fake)
	if size := messageSize(sent.MessageBody, sent.MessageAttributes); size > limit {
		t.Fatalf("sent %d bytes with the traceparent, over MaxBodyBytes %d", size, limit)
	}
	plain := &fakeSQS{t: t}
	untraced, _ := largest(New(plain, testQueue, WithMaxBodyBytes(limit)), plain)
	if untraced-traced != 72 {
		t.Errorf("a Tracer takes %d bytes of MaxBodyBytes, want 72 (the traceparent attribute)", untraced-traced)
	}
}

// messageSize is a message's size as SQS counts it.
func messageSize(body *string, attrs map[string]types.MessageAttributeValue) int {
	n := len(aws.ToString(body))
	for name, v := range attrs {
		n += len(name) + len(aws.ToString(v.DataType)) + len(aws.ToString(v.StringValue))
	}
	return n
}
