package tracing_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/busywork/busywork/awsclient"
	"github.com/busywork/busywork/consumer"
	"github.com/busywork/busywork/ddb"
	"github.com/busywork/busywork/handlers"
	"github.com/busywork/busywork/internal/dlq"
	"github.com/busywork/busywork/internal/testenv"
	"github.com/busywork/busywork/internal/webapp"
	"github.com/busywork/busywork/jobs"
	"github.com/busywork/busywork/producer"
	"github.com/busywork/busywork/tracing"
)

// login is the demo's login path, traced: the web app, its producer, a
// worker running the real magic-link handler, all against the emulators.
type login struct {
	spans *spans
	web   string // the web app's base URL
	queue string
	sqs   *sqs.Client // untraced, for the test's own sends
	store *ddb.Store
}

func newLogin(t *testing.T) *login {
	s := recordGlobally(t)
	cfg := tracedAWS(t)
	client := sqs.NewFromConfig(cfg)
	queueURL, _ := testenv.NewQueue(t, client, testenv.QueueOptions{})
	dynamo := awsclient.NewDynamoDB(cfg)
	store := ddb.New(dynamo, testenv.NewTable(t, dynamo))

	app := webapp.New(webapp.Config{
		Sender:  producer.New(client, queueURL, producer.WithTracer(tracing.Producer())),
		Store:   store,
		BaseURL: "http://127.0.0.1:8080",
		Tracing: true,
	})
	srv := httptest.NewServer(app)
	t.Cleanup(srv.Close)

	mux := consumer.NewMux()
	mux.Use(tracing.Middleware())
	handlers.Register(mux, handlers.Deps{Store: store, Mail: sesv2.NewFromConfig(cfg), From: "no-reply@example.com", BaseURL: "http://127.0.0.1:8080/"})
	serve(t, client, mux, queueURL, consumer.Config{})
	return &login{spans: s, web: srv.URL, queue: queueURL, sqs: testenv.SQS(t), store: store}
}

// user adds a user of the test's own and returns the address.
func (l *login) user(t *testing.T) string {
	t.Helper()
	email := strings.ToLower(testenv.UniqueName(t, "ada", 40)) + "@example.com"
	if err := l.store.PutUser(t.Context(), email, "Ada"); err != nil {
		t.Fatal(err)
	}
	return email
}

func TestTrace_OneTraceFromTheLoginRequestThroughTheJobToSendEmail(t *testing.T) {
	l := newLogin(t)
	email := l.user(t)

	resp, err := http.PostForm(l.web+"/auth/magic-link", url.Values{"email": {email}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST /auth/magic-link: %s, want 202", resp.Status)
	}

	s := l.spans
	request := s.await("POST /auth/magic-link", name("POST /auth/magic-link"))
	if request.SpanKind() != trace.SpanKindServer || request.Parent().IsValid() {
		t.Fatalf("request span: kind %s, parent %v; want a server span at the root", request.SpanKind(), request.Parent())
	}
	send := s.await("send magic_link under the request", childOf("send magic_link", request.SpanContext()))
	s.await("SQS.SendMessage under the send", childOf("SQS.SendMessage", send.SpanContext()))
	job := s.await("process magic_link under the send", childOf("process magic_link", send.SpanContext()))
	mail := s.await("SESv2.SendEmail under the job", childOf("SESv2.SendEmail", job.SpanContext()))

	if job.SpanKind() != trace.SpanKindConsumer || !job.Parent().IsRemote() {
		t.Errorf("job span: kind %s, remote parent %t; want a consumer span continuing the message's context", job.SpanKind(), job.Parent().IsRemote())
	}
	sentID, _ := attr(send, "busywork.job.id")
	for key, want := range map[string]string{
		"messaging.system":           "aws_sqs",
		"messaging.destination.name": l.queue[strings.LastIndexByte(l.queue, '/')+1:],
		"busywork.job.type":          "magic_link",
		"busywork.job.id":            sentID.AsString(),
	} {
		if got, _ := attr(job, key); got.AsString() != want || want == "" {
			t.Errorf("job span %s = %q, want %q", key, got.AsString(), want)
		}
	}
	wait, ok := attr(job, "busywork.queue_wait_ms")
	if !ok || wait.AsInt64() < 0 || wait.AsInt64() > 30_000 {
		t.Errorf("job span busywork.queue_wait_ms = %v (set %t), want the milliseconds the message waited", wait.AsInt64(), ok)
	}
	if job.StartTime().Before(send.StartTime()) {
		t.Errorf("job span starts %v before its send", send.StartTime().Sub(job.StartTime()))
	}
	if mail.Status().Code == codes.Error {
		t.Errorf("SendEmail span: %v", mail.Status())
	}
	var ddbCalls int
	for _, sp := range s.rec.Ended() {
		if strings.HasPrefix(sp.Name(), "DynamoDB.") && sp.Parent().SpanID() == job.SpanContext().SpanID() {
			ddbCalls++
		}
		if sp.SpanContext().TraceID() != request.SpanContext().TraceID() {
			t.Errorf("span %s is in trace %s, not the request's %s", sp.Name(), sp.SpanContext().TraceID(), request.SpanContext().TraceID())
		}
	}
	if ddbCalls == 0 {
		t.Errorf("no DynamoDB span under the job span (the handler reads the user and stores the token); spans:\n%s", s.dump())
	}
	// The worker's own calls (receives, deletes, heartbeats) run under no
	// span, and so are not traced: each would be a trace of its own.
	if n := len(s.named("SQS.ReceiveMessage")); n > 0 {
		t.Errorf("%d SQS.ReceiveMessage spans, want none: the worker's calls outside a job are not traced", n)
	}
}

func TestTrace_AMessageFromAnotherProducerStartsANewTrace(t *testing.T) {
	l := newLogin(t)
	email := l.user(t)

	// Only a body, as a producer in another language or the console sends.
	if _, err := l.sqs.SendMessage(t.Context(), &sqs.SendMessageInput{
		QueueUrl: aws.String(l.queue), MessageBody: aws.String(`{"type":"magic_link","email":"` + email + `"}`),
	}); err != nil {
		t.Fatal(err)
	}

	job := l.spans.await("process magic_link", name("process magic_link"))
	if job.Parent().IsValid() {
		t.Fatalf("job span has parent %v, want a new root", job.Parent())
	}
	l.spans.await("SESv2.SendEmail under the job", childOf("SESv2.SendEmail", job.SpanContext()))
}

// flaky is a job whose handler snoozes its first run, fails its second
// for good and succeeds on the third.
type flaky struct {
	Note string `json:"note"`
}

func (flaky) Type() string    { return "trace_flaky" }
func (flaky) Validate() error { return nil }

func TestTrace_EveryRunOfAJobIsAChildOfItsSendThroughACopyAndADLQReplay(t *testing.T) {
	s := recordGlobally(t)
	cfg := tracedAWS(t)
	client := sqs.NewFromConfig(cfg)
	queueURL, dlqURL := testenv.NewQueue(t, client, testenv.QueueOptions{})

	var runs atomic.Int32
	mux := consumer.NewMux()
	mux.Use(tracing.Middleware())
	consumer.Handle(mux, func(ctx context.Context, _ flaky) error {
		switch runs.Add(1) {
		case 1:
			return consumer.Snooze(time.Second) // past the hold: a fresh copy of the message
		case 2:
			return consumer.Permanent(errors.New("refused for the test")) // to the DLQ
		}
		return nil
	})
	serve(t, client, mux, queueURL, consumer.Config{HoldLimit: 10 * time.Millisecond})

	ctx, request := s.tp.Tracer("test").Start(t.Context(), "request")
	p := producer.New(client, queueURL, producer.WithTracer(tracing.Producer()))
	if _, err := p.Send(ctx, flaky{Note: "hi"}); err != nil {
		t.Fatal(err)
	}
	request.End()
	send := s.await("send trace_flaky", childOf("send trace_flaky", request.SpanContext()))

	inDLQ := func() bool { return testenv.QueueSize(t, testenv.SQS(t), dlqURL) == 1 }
	for deadline := time.Now().Add(30 * time.Second); !inDLQ(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the job is not in the DLQ after 30 s (%d runs); spans:\n%s", runs.Load(), s.dump())
		}
	}
	q, err := dlq.Open(t.Context(), testenv.SQS(t), queueURL)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := q.Replay(t.Context(), dlq.ReplayOptions{Rate: 100})
	if err != nil || sum.Moved != 1 {
		t.Fatalf("replay: moved %d, %v; want the dead letter moved", sum.Moved, err)
	}

	s.await("three runs", func(sdktrace.ReadOnlySpan) bool { return len(s.named("process trace_flaky")) == 3 })
	for i, run := range s.named("process trace_flaky") {
		if run.Parent().SpanID() != send.SpanContext().SpanID() || run.SpanContext().TraceID() != send.SpanContext().TraceID() {
			t.Errorf("run %d: trace %s parent %s, want a child of the send (trace %s span %s)", i+1,
				run.SpanContext().TraceID(), run.Parent().SpanID(), send.SpanContext().TraceID(), send.SpanContext().SpanID())
		}
	}
}

func TestTrace_WithoutATracerTheMessageCarriesNoTraceContext(t *testing.T) {
	s := recordGlobally(t)
	client := sqs.NewFromConfig(tracedAWS(t))
	queueURL, _ := testenv.NewQueue(t, client, testenv.QueueOptions{NoDLQ: true})

	// A span in the context, but a producer without a Tracer.
	ctx, request := s.tp.Tracer("test").Start(t.Context(), "request")
	defer request.End()
	if _, err := producer.New(client, queueURL).Send(ctx, flaky{}); err != nil {
		t.Fatal(err)
	}
	msgs := testenv.ReceiveAll(t.Context(), t, testenv.SQS(t), queueURL, 1, 10*time.Second)
	if got := testenv.Attr(msgs[0], jobs.AttrTraceParent); got != "" {
		t.Fatalf("traceparent = %q, want none without a Tracer", got)
	}
}

func TestAWS_TracesACallUnderASpanOnceAndNoneOutside(t *testing.T) {
	s := record(t)
	cfg := testenv.AWSConfig(t)
	tracing.AWS(&cfg, tracing.WithTracerProvider(s.tp))
	tracing.AWS(&cfg, tracing.WithTracerProvider(s.tp)) // as a service might, on the runtime's configuration
	client := sqs.NewFromConfig(cfg)

	if _, err := client.ListQueues(t.Context(), &sqs.ListQueuesInput{}); err != nil {
		t.Fatal(err)
	}
	ctx, parent := s.tp.Tracer("test").Start(t.Context(), "job")
	if _, err := client.ListQueues(ctx, &sqs.ListQueuesInput{}); err != nil {
		t.Fatal(err)
	}
	parent.End()
	calls := s.named("SQS.ListQueues")
	if len(calls) != 1 || calls[0].Parent().SpanID() != parent.SpanContext().SpanID() || calls[0].SpanKind() != trace.SpanKindClient {
		t.Fatalf("spans:\n%s\nwant one SQS.ListQueues, a client span under the job's, for the call made under it", s.dump())
	}
	for key, want := range map[string]string{"rpc.system.name": "aws-api", "rpc.method": "SQS/ListQueues"} {
		if got, _ := attr(calls[0], key); got.AsString() != want {
			t.Errorf("%s = %q, want %q", key, got.AsString(), want)
		}
	}
	if code, _ := attr(calls[0], "http.response.status_code"); code.AsInt64() != http.StatusOK {
		t.Errorf("http.response.status_code = %d, want 200", code.AsInt64())
	}
}
