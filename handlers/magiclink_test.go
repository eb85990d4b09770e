package handlers_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/busywork/busywork/consumer"
	"github.com/busywork/busywork/ddb"
	"github.com/busywork/busywork/demo"
	"github.com/busywork/busywork/handlers"
	"github.com/busywork/busywork/internal/testenv"
	"github.com/busywork/busywork/jobs"
	"github.com/busywork/busywork/ratelimit"
)

const baseURL = "http://127.0.0.1:8080"

// newMagicLink returns a MagicLink on a fresh table of DynamoDB Local that
// sends through aws-ses-v2-local, with sesOpts applied to its SES client.
func newMagicLink(t *testing.T, sesOpts ...func(*sesv2.Options)) (*handlers.MagicLink, *ddb.Store) {
	t.Helper()
	client := testenv.DynamoDB(t)
	store := ddb.New(client, testenv.NewTable(t, client))
	return &handlers.MagicLink{
		Store:   store,
		Mail:    testenv.SESv2(t, sesOpts...),
		From:    "no-reply@example.com",
		BaseURL: baseURL + "/",
	}, store
}

// recipient returns an address only this test uses, since every test
// shares the SES emulator's store.
func recipient(t testing.TB) string {
	return strings.ToLower(testenv.UniqueName(t, "", 60)) + "@example.com"
}

// mailsTo returns the mail stored since since for to.
func mailsTo(t testing.TB, since time.Time, to string) []testenv.Mail {
	t.Helper()
	var got []testenv.Mail
	for _, m := range testenv.Mails(t, since) {
		if slices.Contains(m.Destination.To, to) {
			got = append(got, m)
		}
	}
	return got
}

// delivered returns a context such as the consumer gives the handler of
// job jobID.
func delivered(t *testing.T, jobID string) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return consumer.WithDelivery(ctx, consumer.Delivery{ID: jobID, Type: demo.TypeMagicLink, ReceiveCount: 1})
}

func putUser(t *testing.T, store *ddb.Store, email, name string) {
	t.Helper()
	if err := store.PutUser(context.Background(), email, name); err != nil {
		t.Fatal(err)
	}
}

var tokenInLink = regexp.MustCompile(regexp.QuoteMeta(baseURL) + `/auth/verify\?token=([A-Za-z0-9_-]+)`)

func TestMagicLink_ExistingUserGetsOneEmailWhoseLinkWorksOnce(t *testing.T) {
	h, store := newMagicLink(t)
	to := recipient(t)
	putUser(t, store, to, "Ada")
	since := time.Now()

	// The job carries the address as a person typed it.
	if err := h.Handle(delivered(t, "job-1"), demo.MagicLink{Email: " " + strings.ToUpper(to)}); err != nil {
		t.Fatalf("Handle: %v", err)
	}

	mails := mailsTo(t, since, to)
	if len(mails) != 1 {
		t.Fatalf("%d emails to %s, want 1", len(mails), to)
	}
	m := mails[0]
	if m.From != "no-reply@example.com" || m.Subject != handlers.MagicLinkSubject {
		t.Errorf("from %q, subject %q; want no-reply@example.com, %q", m.From, m.Subject, handlers.MagicLinkSubject)
	}
	if !strings.Contains(m.Body.HTML, "Hello Ada,") || !strings.Contains(m.Body.Text, "Hello Ada,") {
		t.Errorf("the email does not greet Ada:\nHTML: %s\ntext: %s", m.Body.HTML, m.Body.Text)
	}
	textLink := tokenInLink.FindStringSubmatch(m.Body.Text)
	htmlLink := tokenInLink.FindStringSubmatch(m.Body.HTML)
	if textLink == nil || htmlLink == nil || textLink[1] != htmlLink[1] {
		t.Fatalf("want the same %s/auth/verify?token=... link in both parts:\nHTML: %s\ntext: %s", baseURL, m.Body.HTML, m.Body.Text)
	}
	if !strings.Contains(m.Body.HTML, `href="`+textLink[0]+`"`) {
		t.Errorf("the HTML part does not link to %s:\n%s", textLink[0], m.Body.HTML)
	}

	token := textLink[1]
	email, err := store.ConsumeToken(context.Background(), token, time.Now())
	if err != nil || email != to {
		t.Fatalf("first ConsumeToken = %q, %v; want %q, nil", email, err, to)
	}
	if _, err := store.ConsumeToken(context.Background(), token, time.Now()); !errors.Is(err, ddb.ErrInvalidToken) {
		t.Fatalf("second ConsumeToken: %v, want ErrInvalidToken", err)
	}
}

func TestMagicLink_UnknownEmailSucceedsAndSendsNothing(t *testing.T) {
	h, _ := newMagicLink(t)
	to := recipient(t)
	since := time.Now()

	if err := h.Handle(delivered(t, "job-1"), demo.MagicLink{Email: to}); err != nil {
		t.Fatalf("Handle: %v, want nil (an unknown address must look like a known one)", err)
	}
	if mails := mailsTo(t, since, to); len(mails) != 0 {
		t.Fatalf("%d emails to an unknown address, want 0", len(mails))
	}
}

func TestMagicLink_SameJobTwiceSendsOneEmail(t *testing.T) {
	h, store := newMagicLink(t)
	to := recipient(t)
	putUser(t, store, to, "Ada")
	since := time.Now()

	for i := range 2 {
		if err := h.Handle(delivered(t, "job-1"), demo.MagicLink{Email: to}); err != nil {
			t.Fatalf("delivery %d: %v", i+1, err)
		}
	}
	if mails := mailsTo(t, since, to); len(mails) != 1 {
		t.Fatalf("%d emails after one job delivered twice, want 1", len(mails))
	}
	// A new job for the same address is a new request: it sends.
	if err := h.Handle(delivered(t, "job-2"), demo.MagicLink{Email: to}); err != nil {
		t.Fatal(err)
	}
	if mails := mailsTo(t, since, to); len(mails) != 2 {
		t.Fatalf("%d emails after a second job, want 2", len(mails))
	}
}

func TestMagicLink_ConcurrentDeliveriesOfOneJobSendOneEmail(t *testing.T) {
	h, store := newMagicLink(t)
	to := recipient(t)
	putUser(t, store, to, "Ada")
	since := time.Now()

	const n = 5
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = h.Handle(delivered(t, "job-1"), demo.MagicLink{Email: to}) })
	}
	wg.Wait()
	for i, err := range errs {
		// A loser either saw the job done or is told to retry after the
		// winner's lease; neither is permanent.
		if err != nil && consumer.IsPermanent(err) {
			t.Errorf("delivery %d: permanent error %v", i, err)
		}
	}
	if mails := mailsTo(t, since, to); len(mails) != 1 {
		t.Fatalf("%d emails after %d concurrent deliveries of one job, want 1", len(mails), n)
	}
}

func TestMagicLink_EscapesHTMLInTheUsersName(t *testing.T) {
	h, store := newMagicLink(t)
	to := recipient(t)
	putUser(t, store, to, `<script>alert("x")</script> & <b>Ada</b>`)
	since := time.Now()

	if err := h.Handle(delivered(t, "job-1"), demo.MagicLink{Email: to}); err != nil {
		t.Fatal(err)
	}
	mails := mailsTo(t, since, to)
	if len(mails) != 1 {
		t.Fatalf("%d emails, want 1", len(mails))
	}
	html := mails[0].Body.HTML
	if strings.Contains(html, "<script") || strings.Contains(html, "<b>Ada") {
		t.Errorf("the user's name reached the HTML part unescaped:\n%s", html)
	}
	if !strings.Contains(html, "&lt;script&gt;") || !strings.Contains(html, "&amp; &lt;b&gt;Ada&lt;/b&gt;") {
		t.Errorf("the HTML part does not hold the escaped name:\n%s", html)
	}
}

func TestMagicLink_SixthLinkWithinAnHourSendsNothing(t *testing.T) {
	h, store := newMagicLink(t)
	to := recipient(t)
	putUser(t, store, to, "Ada")
	since := time.Now()

	for i := range ddb.DefaultLinkLimit + 1 {
		if err := h.Handle(delivered(t, fmt.Sprintf("job-%d", i)), demo.MagicLink{Email: to}); err != nil {
			t.Fatalf("job %d: %v, want nil (over the limit ends the job quietly)", i+1, err)
		}
	}
	if mails := mailsTo(t, since, to); len(mails) != ddb.DefaultLinkLimit {
		t.Fatalf("%d emails for %d requests, want %d", len(mails), ddb.DefaultLinkLimit+1, ddb.DefaultLinkLimit)
	}
	// The refused job is done: its redelivery neither sends nor counts.
	if err := h.Handle(delivered(t, fmt.Sprintf("job-%d", ddb.DefaultLinkLimit)), demo.MagicLink{Email: to}); err != nil {
		t.Fatal(err)
	}
	if mails := mailsTo(t, since, to); len(mails) != ddb.DefaultLinkLimit {
		t.Fatalf("%d emails after a redelivery of the refused job, want %d", len(mails), ddb.DefaultLinkLimit)
	}
}

// fault is one answer that faultClient gives instead of the emulator's.
type fault struct {
	status int    // HTTP status of the error reply
	code   string // x-amzn-ErrorType, the SES error code
	err    error  // when set, a transport error instead of a reply
}

// faultClient answers SES requests with its faults, one per request, then
// passes requests on to the real emulator.
type faultClient struct {
	next     sesv2.HTTPClient
	mu       sync.Mutex
	faults   []fault
	requests []time.Time // when each request came, faulted or not
}

func (c *faultClient) Do(req *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.requests = append(c.requests, time.Now())
	if len(c.faults) == 0 {
		c.mu.Unlock()
		return c.next.Do(req)
	}
	f := c.faults[0]
	c.faults = c.faults[1:]
	c.mu.Unlock()
	if f.err != nil {
		return nil, f.err
	}
	body := `{"message":"injected by the test"}`
	return &http.Response{
		StatusCode: f.status,
		Status:     fmt.Sprintf("%d %s", f.status, http.StatusText(f.status)),
		Header: http.Header{
			"Content-Type":     {"application/json"},
			"X-Amzn-Errortype": {f.code},
			"X-Amzn-Requestid": {"injected"},
		},
		Body:          io.NopCloser(strings.NewReader(body)),
		ContentLength: int64(len(body)),
		Request:       req,
	}, nil
}

// injectFaults puts faults in front of the emulator. The SDK's own retries
// are off, so the handler sees the first fault: in production the SDK
// retries throttling and 5xx a few times before the handler sees them.
func injectFaults(faults ...fault) func(*sesv2.Options) {
	return injectFaultsInto(new(faultClient), faults...)
}

// injectFaultsInto is injectFaults through c, which records the requests.
func injectFaultsInto(c *faultClient, faults ...fault) func(*sesv2.Options) {
	return func(o *sesv2.Options) {
		c.next, c.faults = o.HTTPClient, faults
		o.HTTPClient = c
		o.RetryMaxAttempts = 1
	}
}

func TestMagicLink_SESErrorsAreTransientOrPermanentByKind(t *testing.T) {
	tests := []struct {
		name      string
		fault     fault
		permanent bool
		as        any // a pointer to the SES error type the handler's error wraps
	}{
		{"throttled", fault{status: 429, code: "TooManyRequestsException"}, false, new(*sestypes.TooManyRequestsException)},
		{"daily quota", fault{status: 429, code: "LimitExceededException"}, false, new(*sestypes.LimitExceededException)},
		{"server error", fault{status: 500, code: "InternalServiceErrorException"}, false, new(*sestypes.InternalServiceErrorException)},
		{"network", fault{err: errors.New("connection reset by peer")}, false, nil},
		{"message rejected", fault{status: 400, code: "MessageRejected"}, true, new(*sestypes.MessageRejected)},
		{"bad request", fault{status: 400, code: "BadRequestException"}, true, new(*sestypes.BadRequestException)},
		{"mail-from not verified", fault{status: 400, code: "MailFromDomainNotVerifiedException"}, true, new(*sestypes.MailFromDomainNotVerifiedException)},
		{"account suspended", fault{status: 400, code: "AccountSuspendedException"}, true, new(*sestypes.AccountSuspendedException)},
		{"sending paused", fault{status: 400, code: "SendingPausedException"}, true, new(*sestypes.SendingPausedException)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, store := newMagicLink(t, injectFaults(tt.fault))
			to := recipient(t)
			putUser(t, store, to, "Ada")
			since := time.Now()

			err := h.Handle(delivered(t, "job-1"), demo.MagicLink{Email: to})
			if err == nil {
				t.Fatal("Handle: nil error, want the injected SES failure")
			}
			if got := consumer.IsPermanent(err); got != tt.permanent {
				t.Fatalf("IsPermanent(%v) = %v, want %v", err, got, tt.permanent)
			}
			if tt.as != nil && !errors.As(err, tt.as) {
				t.Errorf("error %v does not wrap %T", err, tt.as)
			}
			if mails := mailsTo(t, since, to); len(mails) != 0 {
				t.Fatalf("%d emails after a failed send, want 0", len(mails))
			}
			// The failed attempt released its claim: the retry sends now,
			// not after the lease.
			if err := h.Handle(delivered(t, "job-1"), demo.MagicLink{Email: to}); err != nil {
				t.Fatalf("retry: %v", err)
			}
			if mails := mailsTo(t, since, to); len(mails) != 1 {
				t.Fatalf("%d emails after the retry, want 1", len(mails))
			}
		})
	}
}

// linkWorker is a consumer serving a queue of its own with a magic_link
// handler until the test ends; a failed job is retried after 1 s.
type linkWorker struct {
	sqs     *sqs.Client
	queue   string
	handled chan error // each delivery's outcome, in order
}

func serveLinks(t *testing.T, h *handlers.MagicLink) *linkWorker {
	t.Helper()
	client := testenv.SQS(t)
	queue, _ := testenv.NewQueue(t, client, testenv.QueueOptions{MaxReceiveCount: 10})
	w := &linkWorker{sqs: client, queue: queue, handled: make(chan error, 100)}
	mux := consumer.NewMux()
	consumer.Handle(mux, func(ctx context.Context, j demo.MagicLink) error {
		err := h.Handle(ctx, j)
		w.handled <- err
		return err
	}, consumer.Timeout(20*time.Second))
	c, err := consumer.New(client, mux, consumer.Config{
		Queues:       []consumer.QueueConfig{{URL: queue, Concurrency: 1}},
		DrainTimeout: 5 * time.Second,
		BackoffBase:  time.Second, BackoffMax: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	runConsumer(t, c)
	return w
}

// send enqueues a magic_link job for to with job id id, as a producer
// would; sending one id twice is SQS delivering a job twice.
func (w *linkWorker) send(t *testing.T, id, to string) {
	t.Helper()
	_, err := w.sqs.SendMessage(context.Background(), &sqs.SendMessageInput{
		QueueUrl:    aws.String(w.queue),
		MessageBody: aws.String(`{"type":"magic_link","email":"` + to + `"}`),
		MessageAttributes: map[string]sqstypes.MessageAttributeValue{
			jobs.AttrJobID: {DataType: aws.String("String"), StringValue: aws.String(id)},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
}

// next returns the outcome of the next delivery the worker handles.
func (w *linkWorker) next(t *testing.T, within time.Duration) error {
	t.Helper()
	select {
	case err := <-w.handled:
		return err
	case <-time.After(within):
		t.Fatalf("no delivery handled within %s", within)
		return nil
	}
}

func TestMagicLink_RedeliveredThroughTheConsumerSendsOneEmail(t *testing.T) {
	h, store := newMagicLink(t)
	to := recipient(t)
	putUser(t, store, to, "Ada")
	w := serveLinks(t, h)
	since := time.Now()

	// Two copies of one job, as SQS's at-least-once delivery may give.
	w.send(t, "job-1", to)
	w.send(t, "job-1", to)
	for i := range 2 {
		if err := w.next(t, 30*time.Second); err != nil {
			t.Fatalf("delivery %d: %v", i+1, err)
		}
	}
	if mails := mailsTo(t, since, to); len(mails) != 1 {
		t.Fatalf("%d emails for one job delivered twice, want 1", len(mails))
	}
}

func TestMagicLink_AJobRetriedAfterAFailedSendCountsOnceAgainstTheHourlyLimit(t *testing.T) {
	// One link an hour, and SES fails the first send: the job's retry
	// must still mail, and then the hour's one link is spent.
	client := testenv.DynamoDB(t)
	store := ddb.New(client, testenv.NewTable(t, client), func(o *ddb.Options) { o.LinkLimit = 1 })
	h := &handlers.MagicLink{
		Store:   store,
		Mail:    testenv.SESv2(t, injectFaults(fault{status: 500, code: "InternalServiceErrorException"})),
		From:    "no-reply@example.com",
		BaseURL: baseURL,
	}
	to := recipient(t)
	putUser(t, store, to, "Ada")
	w := serveLinks(t, h)
	since := time.Now()

	w.send(t, "job-1", to)
	if err := w.next(t, 30*time.Second); err == nil || consumer.IsPermanent(err) {
		t.Fatalf("first delivery: %v, want the injected SES failure (transient)", err)
	}
	if err := w.next(t, 30*time.Second); err != nil {
		t.Fatalf("redelivery: %v", err)
	}
	if mails := mailsTo(t, since, to); len(mails) != 1 {
		t.Fatalf("%d emails after the redelivery, want 1 (the retry must not count as a second link)", len(mails))
	}
	w.send(t, "job-2", to)
	if err := w.next(t, 30*time.Second); err != nil {
		t.Fatalf("second job: %v, want nil (over the limit ends the job quietly)", err)
	}
	if mails := mailsTo(t, since, to); len(mails) != 1 {
		t.Fatalf("%d emails after a second job within the hour, want 1 (the limit is 1)", len(mails))
	}
}

func TestMagicLink_UnknownAddressIsNotLogged(t *testing.T) {
	var logs strings.Builder // Handle runs on this goroutine
	h, store := newMagicLink(t)
	h.Logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	known, unknown := recipient(t), "stranger-"+recipient(t)
	putUser(t, store, known, "Ada")

	for i, to := range []string{unknown, known} {
		if err := h.Handle(delivered(t, fmt.Sprintf("job-%d", i)), demo.MagicLink{Email: to}); err != nil {
			t.Fatal(err)
		}
	}
	local, _, _ := strings.Cut(unknown, "@")
	if strings.Contains(logs.String(), local) {
		t.Errorf("the logs hold the unknown address %s:\n%s", unknown, logs.String())
	}
	if !strings.Contains(logs.String(), `"outcome":"unknown_user"`) || !strings.Contains(logs.String(), `"outcome":"sent"`) {
		t.Errorf("the logs lack the two outcomes:\n%s", logs.String())
	}
}

// SES throttles the first three sends (ThrottlingException, as for
// "Maximum sending rate exceeded", then TooManyRequestsException) of a
// magic link whose handler shares a mail limit, on a queue that
// dead-letters a message on its second receive: the mail goes out later,
// once, each throttle having held the limit back a second, and nothing is
// dead-lettered.
func TestMagicLink_ThrottledBySESSendsLaterOnceAndIsNotDeadLettered(t *testing.T) {
	testenv.Require(t)
	dynamo := testenv.DynamoDB(t)
	store := ddb.New(dynamo, testenv.NewTable(t, dynamo))
	ses := new(faultClient)
	mux := consumer.NewMux()
	handlers.Register(mux, handlers.Deps{
		Store:     store,
		Mail:      testenv.SESv2(t, injectFaultsInto(ses, fault{status: 400, code: "ThrottlingException"}, fault{status: 400, code: "ThrottlingException"}, fault{status: 429, code: "TooManyRequestsException"})),
		From:      "no-reply@example.com",
		BaseURL:   baseURL,
		MailLimit: ratelimit.New(store, "mail", ratelimit.PerSecond(5)),
	})
	client := testenv.SQS(t)
	queue, dlq := testenv.NewQueue(t, client, testenv.QueueOptions{MaxReceiveCount: 1})
	c, err := consumer.New(client, mux, consumer.Config{Queues: []consumer.QueueConfig{{URL: queue, Concurrency: 2}}, DrainTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	to := recipient(t)
	putUser(t, store, to, "Ada")
	since := time.Now()
	w := &linkWorker{sqs: client, queue: queue}
	w.send(t, "job-throttled", to)
	runConsumer(t, c)

	var mails []testenv.Mail
	for deadline := time.Now().Add(30 * time.Second); len(mails) == 0 && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
		mails = mailsTo(t, since, to)
	}
	time.Sleep(time.Second) // a second copy would show by now
	if mails = mailsTo(t, since, to); len(mails) != 1 {
		t.Fatalf("%d emails, want 1", len(mails))
	}
	ses.mu.Lock()
	requests := slices.Clone(ses.requests)
	ses.mu.Unlock()
	if len(requests) != 4 {
		t.Fatalf("%d SendEmail requests, want 4 (3 throttled, 1 sent)", len(requests))
	}
	for i := 1; i < len(requests); i++ {
		if gap := requests[i].Sub(requests[i-1]); gap < time.Second {
			t.Errorf("send %d came %s after a throttled one, want at least the limit's 1 s pause", i+1, gap)
		}
	}
	if n := testenv.QueueSize(t, client, dlq); n != 0 {
		t.Errorf("the DLQ holds %d messages, want none", n)
	}
	if n := testenv.QueueSize(t, client, queue); n != 0 {
		t.Errorf("the queue holds %d messages, want none", n)
	}
}
