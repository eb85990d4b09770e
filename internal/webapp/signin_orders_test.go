package webapp_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/busywork/busywork/ddb"
	"github.com/busywork/busywork/internal/testenv"
	"github.com/busywork/busywork/internal/webapp"
)

func TestOrderPost_WithoutALiveSessionEnqueuesNothing_JSONGets401AndTheFormGoesToSignIn(t *testing.T) {
	e := newEnv(t, envOptions{})
	to := recipient(t, "ada")
	// A session that ended an hour ago: made by a store whose clock is two
	// hours behind, for one hour.
	past := ddb.New(testenv.DynamoDB(t), e.table, func(o *ddb.Options) {
		o.Now = func() time.Time { return time.Now().Add(-2 * time.Hour) }
	})
	expired, err := past.CreateSession(t.Context(), to, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	stranger := recipient(t, "stranger")
	body := `{"email":"` + stranger + `","event":"Spam","tickets":1000}`
	for name, c := range map[string]*http.Cookie{
		"no cookie":          nil,
		"an unknown session": {Name: webapp.SessionCookie, Value: strings.Repeat("A", 43)},
		"an expired session": {Name: webapp.SessionCookie, Value: expired},
	} {
		r := e.postOrder(t, c, body)
		var ans struct {
			Error string `json:"error"`
		}
		if r.status != http.StatusUnauthorized || r.contentType != "application/json" || r.location != "" ||
			json.Unmarshal([]byte(r.body), &ans) != nil || !strings.Contains(ans.Error, "Sign in to order tickets") {
			t.Errorf("JSON with %s: %d %s Location %q %q, want a JSON 401 saying to sign in", name, r.status, r.contentType, r.location, r.body)
		}
		form := url.Values{"email": {stranger}, "event": {"Spam"}, "tickets": {"1000"}}.Encode()
		req := newRequest(t, http.MethodPost, e.srv.URL+"/orders", "application/x-www-form-urlencoded", form)
		if c != nil {
			req.AddCookie(c)
		}
		r = do(t, req)
		if r.status != http.StatusSeeOther || r.location != "/#sign-in" {
			t.Errorf("form with %s: %d Location %q, want 303 to /#sign-in", name, r.status, r.location)
		}
		if c != nil {
			if cleared := sessionCookie(r.cookies); cleared == nil || cleared.MaxAge >= 0 {
				t.Errorf("form with %s: cookies %v, want the dead session's cookie cleared", name, r.cookies)
			}
		}
	}
	e.assertNoOtherJobs(t)
}

func TestOrderPost_TheTicketsGoToTheSignedInAddressWhateverTheRequestSays(t *testing.T) {
	e := newEnv(t, envOptions{})
	ada, stranger := recipient(t, "ada"), recipient(t, "stranger")
	session := e.signIn(t, ada)

	r := e.postOrder(t, session, `{"email":"`+stranger+`","event":"Gala","tickets":2}`)
	if r.status != http.StatusAccepted || strings.Contains(r.body, stranger) || !strings.Contains(r.body, `"email":"`+ada+`"`) {
		t.Fatalf("JSON naming a stranger: %d %s, want 202 naming %s only", r.status, r.body, ada)
	}
	if job := e.receiveOrder(t); job.Email != ada {
		t.Errorf("JSON naming a stranger enqueued an order to %q, want %q", job.Email, ada)
	}

	// An old page's form still posts an email field.
	form := url.Values{"email": {stranger}, "event": {"Gala"}, "tickets": {"3"}}.Encode()
	req := newRequest(t, http.MethodPost, e.srv.URL+"/orders", "application/x-www-form-urlencoded", form)
	req.AddCookie(session)
	r = do(t, req)
	if r.status != http.StatusAccepted || strings.Contains(r.body, stranger) || !strings.Contains(r.body, "they will be emailed to "+ada+".") {
		t.Fatalf("form naming a stranger: %d, want 202 saying the tickets go to %s:\n%s", r.status, ada, r.body)
	}
	if job := e.receiveOrder(t); job.Email != ada {
		t.Errorf("form naming a stranger enqueued an order to %q, want %q", job.Email, ada)
	}
}

// clock is a settable time for the app's throttles.
type clock struct {
	mu sync.Mutex
	at time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.at }

func (c *clock) advance(d time.Duration) { c.mu.Lock(); defer c.mu.Unlock(); c.at = c.at.Add(d) }

func TestOrderPost_AUserOverTheOrderThrottleGets429WithRetryAfterWhileOthersAreServed(t *testing.T) {
	const burst, interval = 2, time.Minute
	clk := &clock{at: time.Now()}
	e := newEnv(t, envOptions{app: func(c *webapp.Config) { c.OrderBurst, c.OrderInterval, c.Now = burst, interval, clk.now }})
	flooder, other := e.signIn(t, recipient(t, "flooder")), e.signIn(t, recipient(t, "other"))
	// Each order is another (the same one again is a repeat, not counted).
	shows := 0
	body := func() string { shows++; return fmt.Sprintf(`{"event":"Gala %d","tickets":1000}`, shows) }

	for i := range burst {
		if r := e.postOrder(t, flooder, body()); r.status != http.StatusAccepted {
			t.Fatalf("order %d of the burst: %d %s, want 202", i+1, r.status, r.body)
		}
	}
	r := e.postOrder(t, flooder, body())
	secs, err := strconv.Atoi(r.retryAfter)
	if r.status != http.StatusTooManyRequests || err != nil || secs < 1 || secs > 60 || !strings.Contains(r.body, "wait a little") {
		t.Fatalf("JSON over the burst: %d Retry-After %q %s, want 429 with Retry-After 1 to 60 seconds", r.status, r.retryAfter, r.body)
	}
	r = e.postOrderForm(t, flooder, "Gala", "1")
	if r.status != http.StatusTooManyRequests || r.retryAfter == "" || r.contentType != "text/html; charset=utf-8" ||
		!strings.Contains(r.body, `action="/orders"`) {
		t.Fatalf("form over the burst: %d Retry-After %q, want a 429 page with the order form:\n%s", r.status, r.retryAfter, r.body)
	}
	if r := e.postOrder(t, other, body()); r.status != http.StatusAccepted {
		t.Fatalf("another user during the flood: %d %s, want 202", r.status, r.body)
	}
	// A minute later the flooder has earned one order again.
	clk.advance(interval)
	if r := e.postOrder(t, flooder, body()); r.status != http.StatusAccepted {
		t.Fatalf("a minute later: %d %s, want 202", r.status, r.body)
	}
	msgs := testenv.ReceiveAll(t.Context(), t, e.sqs, e.queueURL, burst+2, 10*time.Second)
	e.assertNoOtherJobs(t, msgs...)
}

func TestIndex_ShowsTheOrderFormOnlyToASignedInUserWithWhereTheTicketsGo(t *testing.T) {
	e := newEnv(t, envOptions{})
	out := e.get(t, "/")
	if !strings.Contains(out.body, `id="sign-in"`) || strings.Contains(out.body, `action="/orders"`) ||
		!strings.Contains(out.body, "Sign in to order tickets") {
		t.Errorf("GET / signed out: want the login form and no order form:\n%s", out.body)
	}
	ada := recipient(t, "ada")
	in := e.getWithCookie(t, "/", e.signIn(t, ada))
	for _, want := range []string{`method="post" action="/orders"`, "The tickets are emailed to <strong>" + ada + "</strong>.",
		`name="event"`, `name="tickets" type="number" min="1" max="1000"`} {
		if !strings.Contains(in.body, want) {
			t.Errorf("GET / signed in lacks %s:\n%s", want, in.body)
		}
	}
	if strings.Contains(in.body, `name="email"`) || strings.Contains(in.body, `action="/auth/magic-link"`) {
		t.Errorf("GET / signed in has an email field:\n%s", in.body)
	}
}
