package webapp_test

import (
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/busywork/busywork/ddb"
	"github.com/busywork/busywork/internal/testenv"
	"github.com/busywork/busywork/internal/webapp"
	"github.com/busywork/busywork/producer"
)

// The tests here put a testenv.DelayProxy between the app's clients and
// an emulator: a slow or hung SQS or DynamoDB, which the emulators cannot
// be made to be.

// slowAnswer is how long the proxy holds the requests it delays: far past
// every deadline.
const slowAnswer = 5 * time.Second

// answerMargin is how much later than its deadline a request may answer
// (the bound the issue asks for).
const answerMargin = 200 * time.Millisecond

// newSQSProxyEnv returns an env whose producer sends through a DelayProxy
// in front of the SQS emulator, micro-batching as `busywork web` does.
func newSQSProxyEnv(t *testing.T) (*env, *testenv.DelayProxy) {
	t.Helper()
	testenv.Require(t)
	proxy := testenv.NewDelayProxy(t, os.Getenv(testenv.EnvSQS))
	e := newEnv(t, envOptions{
		sqsOpts:  []func(*sqs.Options){func(o *sqs.Options) { o.BaseEndpoint = aws.String(proxy.URL) }},
		prodOpts: []func(*producer.Options){producer.WithBatching(producer.SuggestedBatchWindow)},
	})
	return e, proxy
}

// timed does req and returns the reply and how long it took.
func timed(t *testing.T, req *http.Request) (reply, time.Duration) {
	t.Helper()
	start := time.Now()
	r := do(t, req)
	return r, time.Since(start)
}

// metric returns the value of series, a metric's name and labels (sorted
// by name, as /metrics writes them), in e's GET /metrics; 0 when absent.
func (e *env) metric(t *testing.T, series string) float64 {
	t.Helper()
	r := e.get(t, "/metrics")
	if r.status != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", r.status, r.body)
	}
	for line := range strings.Lines(r.body) {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				t.Fatalf("GET /metrics: %q: %v", line, err)
			}
			return f
		}
	}
	return 0
}

// assertMetric fails the test unless series has the value want.
func (e *env) assertMetric(t *testing.T, series string, want float64) {
	t.Helper()
	if got := e.metric(t, series); got != want {
		t.Errorf("%s = %v, want %v", series, got, want)
	}
}

func TestMagicLinkPost_SlowSQSAnswers503WithinTheDeadlineAndTheNextRequestIsMailedOnceItRecovers(t *testing.T) {
	e, proxy := newSQSProxyEnv(t)
	to := recipient(t, "ada")
	if err := e.store.PutUser(t.Context(), to, "Ada"); err != nil {
		t.Fatal(err)
	}
	runWorker(t, e)

	proxy.Set(testenv.Delay{Before: slowAnswer})
	r, took := timed(t, newRequest(t, http.MethodPost, e.srv.URL+"/auth/magic-link", "application/x-www-form-urlencoded", "email="+to))
	if r.status != http.StatusServiceUnavailable || r.retryAfter != "1" {
		t.Fatalf("SQS answering after %v: %d Retry-After %q, want 503 with Retry-After: 1:\n%s", slowAnswer, r.status, r.retryAfter, r.body)
	}
	if limit := producer.DefaultTimeout + answerMargin; took > limit {
		t.Errorf("the 503 took %v, want at most %v (the send deadline + %v)", took, limit, answerMargin)
	}
	t.Logf("503 after %v and %d attempts", took, proxy.Requests())
	if n := proxy.Requests(); n < 2 {
		t.Errorf("%d attempts reached SQS within the deadline, want a retry too", n)
	}
	e.assertMetric(t, `busywork_web_send_failures_total{type="magic_link"}`, 1)
	e.assertMetric(t, `busywork_web_send_duration_seconds_count{outcome="failed",type="magic_link"}`, 1)
	e.assertMetric(t, `busywork_web_requests_total{code="503",route="POST /auth/magic-link"}`, 1)

	proxy.Set(testenv.Delay{})
	since := time.Now().Add(-time.Second)
	if r := e.postLink(t, false, to); r.status != http.StatusAccepted {
		t.Fatalf("SQS answering at once again: %d %s, want 202", r.status, r.body)
	}
	waitForLink(t, since, to, e.srv.URL)
	e.assertMetric(t, `busywork_web_send_duration_seconds_count{outcome="sent",type="magic_link"}`, 1)
	e.assertMetric(t, `busywork_web_send_failures_total{type="magic_link"}`, 1)
	e.assertMetric(t, `busywork_web_requests_total{code="202",route="POST /auth/magic-link"}`, 1)
}

func TestMagicLinkPost_AHungFirstAttemptIsRetriedWithinTheDeadline(t *testing.T) {
	e, proxy := newSQSProxyEnv(t)
	proxy.Set(testenv.Delay{Before: slowAnswer, Count: 1})

	r, took := timed(t, newRequest(t, http.MethodPost, e.srv.URL+"/auth/magic-link", "application/json", `{"email":"`+recipient(t, "ada")+`"}`))
	if r.status != http.StatusAccepted {
		t.Fatalf("first SQS attempt hung: %d %s, want 202 from a retry", r.status, r.body)
	}
	t.Logf("202 after %v", took)
	if n := proxy.Requests(); n != 2 {
		t.Errorf("%d attempts reached SQS, want 2 (the hung one and its retry)", n)
	}
	// The hung attempt was never forwarded: one job, from the retry.
	e.assertNoOtherJobs(t, testenv.ReceiveAll(t.Context(), t, e.sqs, e.queueURL, 1, 10*time.Second)...)
	e.assertMetric(t, `busywork_web_send_duration_seconds_count{outcome="sent",type="magic_link"}`, 1)
	e.assertMetric(t, `busywork_web_send_failures_total{type="magic_link"}`, 0)
}

func TestOrderPost_SlowSQSAnswers503WithinTheDeadline(t *testing.T) {
	e, proxy := newSQSProxyEnv(t)
	proxy.Set(testenv.Delay{Before: slowAnswer})

	session, err := e.store.CreateSession(t.Context(), recipient(t, "ada"), 0)
	if err != nil {
		t.Fatal(err)
	}
	req := newRequest(t, http.MethodPost, e.srv.URL+"/orders", "application/json", `{"event":"Gala","tickets":3}`)
	req.AddCookie(&http.Cookie{Name: webapp.SessionCookie, Value: session})
	r, took := timed(t, req)
	if r.status != http.StatusServiceUnavailable || r.retryAfter != "1" {
		t.Fatalf("%d Retry-After %q %s, want 503 with Retry-After: 1", r.status, r.retryAfter, r.body)
	}
	if limit := producer.DefaultTimeout + answerMargin; took > limit {
		t.Errorf("the 503 took %v, want at most %v (the send deadline + %v)", took, limit, answerMargin)
	}
	e.assertMetric(t, `busywork_web_send_failures_total{type="ticket_order"}`, 1)
	e.assertMetric(t, `busywork_web_requests_total{code="503",route="POST /orders"}`, 1)
}

// With the SDK's own retryer and no attempt timeout, the DynamoDB client
// waits for the slow answer: the app's own request deadline ends the wait.
func TestDynamoDBPaths_SlowDynamoDBAnswers503WithinTheRequestDeadline(t *testing.T) {
	for _, sdkRetries := range []bool{false, true} {
		t.Run(map[bool]string{false: "interactive clients", true: "SDK retries"}[sdkRetries], func(t *testing.T) {
			testenv.Require(t)
			proxy := testenv.NewDelayProxy(t, os.Getenv(testenv.EnvDynamoDB))
			e := newEnv(t, envOptions{
				ddbOpts:    []func(*dynamodb.Options){func(o *dynamodb.Options) { o.BaseEndpoint = aws.String(proxy.URL) }},
				sdkRetries: sdkRetries,
			})
			token, err := e.store.CreateToken(t.Context(), recipient(t, "ada"), 0)
			if err != nil {
				t.Fatal(err)
			}
			order := strings.ToLower(testenv.UniqueName(t, "order-", 100))
			if _, err := e.store.PutOrder(t.Context(), ddb.Order{ID: order, Email: recipient(t, "ada"), Event: "Gala", Tickets: 1}, 0); err != nil {
				t.Fatal(err)
			}

			session, err := e.store.CreateSession(t.Context(), recipient(t, "ada"), 0)
			if err != nil {
				t.Fatal(err)
			}

			proxy.Set(testenv.Delay{Before: slowAnswer})
			for _, tc := range []struct{ route, method, path, body string }{
				{"GET /auth/verify", http.MethodGet, "/auth/verify?token=" + token, ""},
				{"POST /auth/verify", http.MethodPost, "/auth/verify", url.Values{"token": {token}}.Encode()},
				{"GET /{$}", http.MethodGet, "/", ""}, // with the session cookie
				{"POST /auth/sign-out", http.MethodPost, "/auth/sign-out", ""},
				{"GET /orders/{id}", http.MethodGet, "/orders/" + order, ""},
				{"POST /orders", http.MethodPost, "/orders", url.Values{"event": {"Gala"}, "tickets": {"1"}}.Encode()}, // the session read
			} {
				req := newRequest(t, tc.method, e.srv.URL+tc.path, "application/x-www-form-urlencoded", tc.body)
				req.AddCookie(&http.Cookie{Name: webapp.SessionCookie, Value: session})
				r, took := timed(t, req)
				if r.status != http.StatusServiceUnavailable || r.retryAfter != "1" || len(r.cookies) != 0 {
					t.Errorf("%s: %d Retry-After %q cookies %v, want 503 with Retry-After: 1 and no cookie:\n%s", tc.route, r.status, r.retryAfter, r.cookies, r.body)
				}
				if limit := webapp.RequestTimeout + answerMargin; took > limit {
					t.Errorf("%s: the 503 took %v, want at most %v (the request deadline + %v)", tc.route, took, limit, answerMargin)
				}
				e.assertMetric(t, `busywork_web_requests_total{code="503",route="`+tc.route+`"}`, 1)
			}
		})
	}
}
