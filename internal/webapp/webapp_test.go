package webapp_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/busywork/busywork/awsclient"
	"github.com/busywork/busywork/consumer"
	"github.com/busywork/busywork/ddb"
	"github.com/busywork/busywork/demo"
	"github.com/busywork/busywork/handlers"
	"github.com/busywork/busywork/internal/testenv"
	"github.com/busywork/busywork/internal/webapp"
	"github.com/busywork/busywork/producer"
)

// env is the app behind a loopback server, with a real producer on a
// queue of its own and a real store on a table of its own, their clients
// made as `busywork web` makes them (awsclient.Interactive) unless
// envOptions.sdkRetries, and metrics.
type env struct {
	srv      *httptest.Server
	store    *ddb.Store
	sqs      *sqs.Client
	queueURL string
	table    string
}

type envOptions struct {
	sqsOpts  []func(*sqs.Options)      // for the producer's client only
	ddbOpts  []func(*dynamodb.Options) // for the app's store only
	prodOpts []func(*producer.Options)
	// sdkRetries makes the app's clients with the SDK's own retryer and
	// no attempt timeout, instead of awsclient.Interactive's.
	sdkRetries bool
	app        func(*webapp.Config) // adjusts the app's configuration
}

func newEnv(t testing.TB, o envOptions) *env {
	t.Helper()
	sqsClient := testenv.SQS(t)
	queueURL, _ := testenv.NewQueue(t, sqsClient, testenv.QueueOptions{})
	ddbClient := testenv.DynamoDB(t)
	table := testenv.NewTable(t, ddbClient)
	store := ddb.New(ddbClient, table)
	webCfg := testenv.AWSConfig(t)
	if !o.sdkRetries {
		webCfg = awsclient.Interactive(webCfg)
	}
	// As `busywork web` makes them: the producer keeps its unique keys
	// (repeated orders) in the app's table, through the app's client.
	appStore := ddb.New(awsclient.NewDynamoDB(webCfg, o.ddbOpts...), table)
	prodOpts := append([]func(*producer.Options){producer.WithUniqueStore(appStore)}, o.prodOpts...)
	sender := producer.New(sqs.NewFromConfig(webCfg, o.sqsOpts...), queueURL, prodOpts...)
	cfg := webapp.Config{
		Sender:  sender,
		Store:   appStore,
		Logger:  slog.New(slog.NewTextHandler(t.Output(), nil)),
		Metrics: prometheus.NewRegistry(),
	}
	if o.app != nil {
		o.app(&cfg)
	}
	srv := httptest.NewServer(webapp.New(cfg))
	t.Cleanup(srv.Close)
	return &env{srv: srv, store: store, sqs: sqsClient, queueURL: queueURL, table: table}
}

// reply is what the tests compare of a response.
type reply struct {
	status      int
	contentType string
	retryAfter  string
	location    string
	body        string
	cookies     []*http.Cookie
}

func do(t *testing.T, req *http.Request) reply {
	t.Helper()
	return doWith(t, http.DefaultTransport, req)
}

// doWith is do through rt.
func doWith(t *testing.T, rt http.RoundTripper, req *http.Request) reply {
	t.Helper()
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", req.Method, req.URL, err)
	}
	return reply{resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Retry-After"), resp.Header.Get("Location"), string(body), resp.Cookies()}
}

func newRequest(t *testing.T, method, u, contentType, body string) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return req
}

// postLink posts email to /auth/magic-link as a form or as JSON.
func (e *env) postLink(t *testing.T, asJSON bool, email string) reply {
	t.Helper()
	if asJSON {
		body, _ := json.Marshal(map[string]string{"email": email})
		return do(t, newRequest(t, http.MethodPost, e.srv.URL+"/auth/magic-link", "application/json", string(body)))
	}
	form := url.Values{"email": {email}}.Encode()
	return do(t, newRequest(t, http.MethodPost, e.srv.URL+"/auth/magic-link", "application/x-www-form-urlencoded", form))
}

func (e *env) get(t *testing.T, path string) reply {
	t.Helper()
	return do(t, newRequest(t, http.MethodGet, e.srv.URL+path, "", ""))
}

// assertNoOtherJobs fails the test if the queue holds a message other than
// those whose MessageId is in seen.
func (e *env) assertNoOtherJobs(t *testing.T, seen ...types.Message) {
	t.Helper()
	out, err := e.sqs.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{
		QueueUrl: aws.String(e.queueURL), WaitTimeSeconds: 1, MaxNumberOfMessages: 10,
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range out.Messages {
		if !slices.ContainsFunc(seen, func(s types.Message) bool { return aws.ToString(s.MessageId) == aws.ToString(m.MessageId) }) {
			t.Fatalf("an unexpected message on the queue: %s", aws.ToString(m.Body))
		}
	}
}

// recipient returns an address only this test uses.
func recipient(t *testing.T, tag string) string {
	return strings.ToLower(testenv.UniqueName(t, tag+"-", 60)) + "@example.com"
}

func TestMagicLinkPost_KnownAndUnknownEmailsGetIdenticalAnswersAndOneJobEach(t *testing.T) {
	for _, asJSON := range []bool{false, true} {
		t.Run(map[bool]string{false: "form", true: "json"}[asJSON], func(t *testing.T) {
			e := newEnv(t, envOptions{})
			known, unknown := recipient(t, "known"), recipient(t, "unknown")
			if err := e.store.PutUser(t.Context(), known, "Ada"); err != nil {
				t.Fatal(err)
			}

			// Typed as a person would: the job carries the normalised form.
			a := e.postLink(t, asJSON, " "+strings.ToUpper(known))
			b := e.postLink(t, asJSON, unknown)
			if a.status != http.StatusAccepted {
				t.Fatalf("known email: %d %s, want 202", a.status, a.body)
			}
			if a.status != b.status || a.contentType != b.contentType || a.body != b.body {
				t.Fatalf("answers differ:\nknown:   %d %s %q\nunknown: %d %s %q", a.status, a.contentType, a.body, b.status, b.contentType, b.body)
			}
			wantType := map[bool]string{false: "text/html; charset=utf-8", true: "application/json"}[asJSON]
			if a.contentType != wantType {
				t.Errorf("Content-Type %q, want %q", a.contentType, wantType)
			}

			msgs := testenv.ReceiveAll(t.Context(), t, e.sqs, e.queueURL, 2, 10*time.Second)
			var got []string
			for _, m := range msgs {
				var ml struct{ Type, Email string }
				if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &ml); err != nil || ml.Type != demo.TypeMagicLink {
					t.Fatalf("message %s: %v, want a magic_link job", aws.ToString(m.Body), err)
				}
				got = append(got, ml.Email)
			}
			slices.Sort(got)
			want := []string{known, unknown}
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("jobs for %v, want %v", got, want)
			}
			e.assertNoOtherJobs(t, msgs...)
		})
	}
}

func TestMagicLinkPost_RefusesBadRequestsWithoutAJob(t *testing.T) {
	e := newEnv(t, envOptions{})
	tests := []struct {
		name        string
		contentType string
		body        string
		status      int
		want        string
	}{
		{"malformed email in a form", "application/x-www-form-urlencoded", "email=ada", http.StatusBadRequest, "not a plain address"},
		{"missing email", "application/x-www-form-urlencoded", "", http.StatusBadRequest, "email: missing"},
		{"named address", "application/json", `{"email":"Ada <ada@example.com>"}`, http.StatusBadRequest, "not a plain address"},
		{"bad JSON", "application/json", `{"email":`, http.StatusBadRequest, "JSON body"},
		{"body over 4 KiB", "application/x-www-form-urlencoded", "email=" + strings.Repeat("a", 5000), http.StatusRequestEntityTooLarge, "over 4096 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := do(t, newRequest(t, http.MethodPost, e.srv.URL+"/auth/magic-link", tt.contentType, tt.body))
			if r.status != tt.status || !strings.Contains(r.body, tt.want) {
				t.Fatalf("%d %q, want %d and a body containing %q", r.status, r.body, tt.status, tt.want)
			}
		})
	}
	e.assertNoOtherJobs(t)
}

func TestRoutes_EnforceMethods(t *testing.T) {
	e := newEnv(t, envOptions{})
	tests := []struct {
		method, path string
		status       int
	}{
		{http.MethodGet, "/auth/magic-link", http.StatusMethodNotAllowed},
		{http.MethodPut, "/auth/magic-link", http.StatusMethodNotAllowed},
		{http.MethodPut, "/auth/verify", http.StatusMethodNotAllowed},
		{http.MethodGet, "/auth/sign-out", http.StatusMethodNotAllowed},
		{http.MethodPost, "/", http.StatusMethodNotAllowed},
		{http.MethodGet, "/orders", http.StatusMethodNotAllowed},
		{http.MethodPut, "/orders/x", http.StatusMethodNotAllowed},
		{http.MethodGet, "/nothing-here", http.StatusNotFound},
		{http.MethodGet, "/healthz", http.StatusOK},
		{http.MethodGet, "/", http.StatusOK},
	}
	for _, tt := range tests {
		r := do(t, newRequest(t, tt.method, e.srv.URL+tt.path, "", ""))
		if r.status != tt.status {
			t.Errorf("%s %s: %d, want %d", tt.method, tt.path, r.status, tt.status)
		}
	}
	if r := e.get(t, "/healthz"); r.body != "ok\n" {
		t.Errorf("/healthz body %q, want ok", r.body)
	}
	index := e.get(t, "/")
	if !strings.Contains(index.body, `action="/auth/magic-link"`) || !strings.Contains(index.body, `name="email"`) {
		t.Errorf("GET / shows no login form:\n%s", index.body)
	}
}

// failingAWS answers every request with a 500, as an outage of SQS or
// DynamoDB would, and records when each came and its context's deadline.
type failingAWS struct {
	mu    sync.Mutex
	calls []awsCall
}

// awsCall is one request failingAWS answered.
type awsCall struct {
	at, deadline time.Time
	hasDeadline  bool
}

// take returns the calls made since the last take.
func (f *failingAWS) take() []awsCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	calls := f.calls
	f.calls = nil
	return calls
}

func (f *failingAWS) Do(req *http.Request) (*http.Response, error) {
	deadline, ok := req.Context().Deadline()
	f.mu.Lock()
	f.calls = append(f.calls, awsCall{at: time.Now(), deadline: deadline, hasDeadline: ok})
	f.mu.Unlock()
	body := `{"__type":"InternalError","message":"injected by the test"}`
	return &http.Response{
		StatusCode:    http.StatusInternalServerError,
		Status:        "500 Internal Server Error",
		Header:        http.Header{"Content-Type": {"application/x-amz-json-1.0"}, "X-Amzn-Requestid": {"injected"}},
		Body:          io.NopCloser(strings.NewReader(body)),
		ContentLength: int64(len(body)),
		Request:       req,
	}, nil
}

func TestMagicLinkPost_SQSFailureAnswers503WithRetryAfterWithinTheSendDeadline(t *testing.T) {
	fault := &failingAWS{}
	e := newEnv(t, envOptions{sqsOpts: []func(*sqs.Options){func(o *sqs.Options) { o.HTTPClient = fault }}})

	for _, asJSON := range []bool{false, true} {
		r := e.postLink(t, asJSON, recipient(t, "ada"))
		if r.status != http.StatusServiceUnavailable || r.retryAfter != "1" {
			t.Fatalf("json=%v: %d Retry-After %q %q, want 503 with Retry-After: 1", asJSON, r.status, r.retryAfter, r.body)
		}
		fault.assertWithinDeadline(t, fmt.Sprintf("json=%v: SQS", asJSON), producer.DefaultTimeout)
	}
	e.assertNoOtherJobs(t)
}

// assertWithinDeadline takes the calls made since the last take and fails
// the test unless there was one and every one ran under a deadline at most
// limit after the first began: a total deadline (the producer's 1 s, for
// example) bounds the SDK's retries, so none outlives it.
func (f *failingAWS) assertWithinDeadline(t *testing.T, what string, limit time.Duration) {
	t.Helper()
	calls := f.take()
	if len(calls) == 0 {
		t.Fatalf("%s: the fault was never hit", what)
	}
	for i, c := range calls {
		if !c.hasDeadline || c.deadline.After(calls[0].at.Add(limit)) {
			t.Errorf("%s attempt %d ran under deadline %v (set: %v), want at most %v from the first attempt",
				what, i+1, c.deadline.Sub(calls[0].at), c.hasDeadline, limit)
		}
	}
}

// runWorker runs the real consumer with the real handlers on e's queue,
// mailing links to the app, until the test ends.
func runWorker(t *testing.T, e *env) {
	t.Helper()
	mux := consumer.NewMux()
	handlers.Register(mux, handlers.Deps{
		Logger:  slog.New(slog.NewTextHandler(t.Output(), nil)),
		Store:   e.store,
		Mail:    testenv.SESv2(t),
		From:    "no-reply@example.com",
		BaseURL: e.srv.URL,
	})
	c, err := consumer.New(e.sqs, mux, consumer.Config{
		Queues:       []consumer.QueueConfig{{URL: e.queueURL, Concurrency: 2}},
		DrainTimeout: 5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	testenv.Background(t, "consumer Run", c.Run)
}

// waitForLink waits for the mail to to arrive and returns its link.
func waitForLink(t *testing.T, since time.Time, to, baseURL string) string {
	t.Helper()
	link := regexp.MustCompile(regexp.QuoteMeta(baseURL) + `/auth/verify\?token=[A-Za-z0-9_-]+`)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		for _, m := range testenv.Mails(t, since) {
			if slices.Contains(m.Destination.To, to) {
				if l := link.FindString(m.Body.Text); l != "" {
					return l
				}
				t.Fatalf("the mail to %s holds no link to %s:\n%s", to, baseURL, m.Body.Text)
			}
		}
		time.Sleep(100 * time.Millisecond) // polling the emulator's store
	}
	t.Fatalf("no mail to %s within 30 s", to)
	return ""
}

// sessionCookie returns the session cookie among cookies, or nil.
func sessionCookie(cookies []*http.Cookie) *http.Cookie {
	for _, c := range cookies {
		if c.Name == webapp.SessionCookie {
			return c
		}
	}
	return nil
}

// tokenOf returns the token of a mailed link.
func tokenOf(t *testing.T, link string) string {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get("token")
}

// postVerify posts the confirm page's form, with extra headers.
func (e *env) postVerify(t *testing.T, token string, headers ...string) reply {
	t.Helper()
	req := newRequest(t, http.MethodPost, e.srv.URL+"/auth/verify", "application/x-www-form-urlencoded", url.Values{"token": {token}}.Encode())
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return do(t, req)
}

// getWithCookie GETs path with the session cookie c.
func (e *env) getWithCookie(t *testing.T, path string, c *http.Cookie) reply {
	t.Helper()
	req := newRequest(t, http.MethodGet, e.srv.URL+path, "", "")
	req.AddCookie(c)
	return do(t, req)
}

func TestLogin_OpeningTheLinkSpendsNothingAndItsConfirmPostSignsInOnce(t *testing.T) {
	e := newEnv(t, envOptions{})
	to := recipient(t, "ada")
	if err := e.store.PutUser(t.Context(), to, "Ada <b>Lovelace</b>"); err != nil {
		t.Fatal(err)
	}
	runWorker(t, e)
	since := time.Now().Add(-time.Second)

	if r := e.postLink(t, false, to); r.status != http.StatusAccepted {
		t.Fatalf("POST: %d %s", r.status, r.body)
	}
	link := waitForLink(t, since, to, e.srv.URL)
	token := tokenOf(t, link)

	// A mail scanner opens the link, then the user does: each gets the
	// confirm page, naming the account, and nothing is spent.
	for _, who := range []string{"the scanner", "the user"} {
		r := do(t, newRequest(t, http.MethodGet, link, "", ""))
		if r.status != http.StatusOK || len(r.cookies) != 0 {
			t.Fatalf("GET by %s: %d with cookies %v, want 200 and none:\n%s", who, r.status, r.cookies, r.body)
		}
		for _, want := range []string{`<form method="post" action="/auth/verify">`, `<input type="hidden" name="token" value="` + token + `">`,
			"Sign in as <strong>" + to + "</strong>?"} {
			if !strings.Contains(r.body, want) {
				t.Fatalf("GET by %s: the confirm page lacks %s:\n%s", who, want, r.body)
			}
		}
		if email, err := e.store.PeekToken(t.Context(), token, time.Now()); err != nil || email != to {
			t.Fatalf("after the GET by %s the token is %q, %v; want unspent", who, email, err)
		}
	}

	// The confirm POST spends the token, starts the session and goes to /.
	first := e.postVerify(t, token)
	session := sessionCookie(first.cookies)
	if first.status != http.StatusSeeOther || first.location != "/" || session == nil {
		t.Fatalf("confirm POST: %d to %q with cookies %v, want 303 to / with a session cookie:\n%s", first.status, first.location, first.cookies, first.body)
	}
	if !session.HttpOnly || session.SameSite != http.SameSiteLaxMode || session.Path != "/" || session.MaxAge != 86400 || session.Secure {
		t.Errorf("cookie %s: want HttpOnly, SameSite=Lax, Path=/, Max-Age=86400, not Secure on http", session)
	}
	index := e.getWithCookie(t, "/", session)
	if index.status != http.StatusOK || !strings.Contains(index.body, "Signed in as <strong>"+to+"</strong>") ||
		!strings.Contains(index.body, `action="/auth/sign-out"`) || strings.Contains(index.body, `action="/auth/magic-link"`) {
		t.Fatalf("GET / signed in: %d, want who is signed in, a sign-out button and no login form:\n%s", index.status, index.body)
	}

	// The token is spent: a second POST and a later GET are refused.
	second := e.postVerify(t, token)
	if second.status != http.StatusUnauthorized || len(second.cookies) != 0 || !strings.Contains(second.body, "invalid, expired or already used") {
		t.Fatalf("second confirm POST: %d with cookies %v, want 401 and none:\n%s", second.status, second.cookies, second.body)
	}
	if again := do(t, newRequest(t, http.MethodGet, link, "", "")); again.status != http.StatusUnauthorized || strings.Contains(again.body, `action="/auth/verify"`) {
		t.Fatalf("GET of a spent link: %d, want 401 without the confirm form:\n%s", again.status, again.body)
	}
}

func TestVerify_ExpiredOrUnknownTokenGetsAClear401Page(t *testing.T) {
	e := newEnv(t, envOptions{})
	// A store whose clock is an hour behind makes a token that expired
	// 45 minutes ago.
	past := ddb.New(testenv.DynamoDB(t), e.table, func(o *ddb.Options) {
		o.Now = func() time.Time { return time.Now().Add(-time.Hour) }
	})
	expired, err := past.CreateToken(t.Context(), recipient(t, "ada"), 0)
	if err != nil {
		t.Fatal(err)
	}
	for name, token := range map[string]string{"expired": expired, "unknown": strings.Repeat("A", 43), "malformed": "<script>", "empty": ""} {
		for method, r := range map[string]reply{
			"GET":  e.get(t, "/auth/verify?token="+url.QueryEscape(token)),
			"POST": e.postVerify(t, token),
		} {
			if r.status != http.StatusUnauthorized || len(r.cookies) != 0 || !strings.Contains(r.body, "invalid, expired or already used") ||
				strings.Contains(r.body, `action="/auth/verify"`) {
				t.Errorf("%s of an %s token: %d cookies %v, want 401, no cookie and no confirm form:\n%s", method, name, r.status, r.cookies, r.body)
			}
		}
	}
}

func TestSignOut_DeletesTheSessionAndClearsTheCookie(t *testing.T) {
	e := newEnv(t, envOptions{})
	to := recipient(t, "ada")
	id, err := e.store.CreateSession(t.Context(), to, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	session := &http.Cookie{Name: webapp.SessionCookie, Value: id}

	req := newRequest(t, http.MethodPost, e.srv.URL+"/auth/sign-out", "application/x-www-form-urlencoded", "")
	req.AddCookie(session)
	r := do(t, req)
	cleared := sessionCookie(r.cookies)
	if r.status != http.StatusSeeOther || r.location != "/" || cleared == nil || cleared.MaxAge >= 0 || cleared.Value != "" {
		t.Fatalf("sign-out: %d to %q with cookies %v, want 303 to / clearing the session cookie", r.status, r.location, r.cookies)
	}
	if _, err := e.store.GetSession(t.Context(), id, time.Now()); !errors.Is(err, ddb.ErrNotFound) {
		t.Fatalf("GetSession after sign-out: %v, want ErrNotFound (the item deleted)", err)
	}
	// The old cookie now shows the login form, and the browser is told
	// to drop it.
	index := e.getWithCookie(t, "/", session)
	if index.status != http.StatusOK || !strings.Contains(index.body, `action="/auth/magic-link"`) || strings.Contains(index.body, to) {
		t.Fatalf("GET / with the old cookie: %d, want the login form:\n%s", index.status, index.body)
	}
	if c := sessionCookie(index.cookies); c == nil || c.MaxAge >= 0 {
		t.Errorf("GET / with a dead session's cookie sets %v, want it cleared", index.cookies)
	}
	// Signing out without a session is no error.
	if r := do(t, newRequest(t, http.MethodPost, e.srv.URL+"/auth/sign-out", "", "")); r.status != http.StatusSeeOther {
		t.Errorf("sign-out without a cookie: %d, want 303", r.status)
	}
}
