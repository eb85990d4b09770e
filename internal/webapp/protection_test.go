package webapp_test

import (
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/busywork/busywork/internal/testenv"
	"github.com/busywork/busywork/internal/webapp"
)

// The headers a browser sends with a POST, by where the posting page came
// from: name and value.
var (
	crossSite = []string{"Sec-Fetch-Site", "cross-site"}
	// crossOriginAll are the cross-origin cases: another site; a sibling
	// subdomain (another origin); an older browser that sends Origin only.
	crossOriginAll = map[string][]string{
		"Sec-Fetch-Site: cross-site": crossSite,
		"Sec-Fetch-Site: same-site":  {"Sec-Fetch-Site", "same-site"},
		"a foreign Origin":           {"Origin", "https://evil.example"},
	}
)

// sameOriginAll are the cases the app serves: a browser on its own pages,
// by either header, and a client that sends neither (curl, a script).
func sameOriginAll(e *env) map[string][]string {
	return map[string][]string{"Sec-Fetch-Site: same-origin": {"Sec-Fetch-Site", "same-origin"}, "its own Origin": {"Origin", e.srv.URL}, "no header": nil}
}

func TestCrossOriginConfirmPostIsRefusedAndSpendsNothing(t *testing.T) {
	e := newEnv(t, envOptions{})
	to := recipient(t, "ada")
	token, err := e.store.CreateToken(t.Context(), to, 0)
	if err != nil {
		t.Fatal(err)
	}
	for name, h := range crossOriginAll {
		r := e.postVerify(t, token, h...)
		if r.status != http.StatusForbidden || len(r.cookies) != 0 || !strings.Contains(r.body, "sent from another site") {
			t.Fatalf("confirm POST with %s: %d with cookies %v, want 403 and none:\n%s", name, r.status, r.cookies, r.body)
		}
		if _, err := e.store.PeekToken(t.Context(), token, time.Now()); err != nil {
			t.Fatalf("after a refused confirm POST with %s the token is %v, want unspent", name, err)
		}
	}
	// Same origin, by either header, or with neither: each spends a token
	// of its own and signs in.
	for name, h := range sameOriginAll(e) {
		tok, err := e.store.CreateToken(t.Context(), to, 0)
		if err != nil {
			t.Fatal(err)
		}
		if r := e.postVerify(t, tok, h...); r.status != http.StatusSeeOther || sessionCookie(r.cookies) == nil {
			t.Errorf("confirm POST with %s: %d, want 303 with a session:\n%s", name, r.status, r.body)
		}
	}
}

func TestCrossOriginLoginAndSignOutPostsAreRefusedAndSameOriginOnesServed(t *testing.T) {
	e := newEnv(t, envOptions{app: func(c *webapp.Config) { c.LoginBurst = 100 }})
	post := func(path, contentType, body string, h []string, c *http.Cookie) reply {
		req := newRequest(t, http.MethodPost, e.srv.URL+path, contentType, body)
		for i := 0; i+1 < len(h); i += 2 {
			req.Header.Set(h[i], h[i+1])
		}
		if c != nil {
			req.AddCookie(c)
		}
		return do(t, req)
	}
	form := url.Values{"email": {recipient(t, "ada")}}.Encode()
	for name, h := range crossOriginAll {
		if r := post("/auth/magic-link", "application/x-www-form-urlencoded", form, h, nil); r.status != http.StatusForbidden {
			t.Errorf("login form POST with %s: %d, want 403", name, r.status)
		}
		if r := post("/auth/magic-link", "application/json", `{"email":"ada@example.com"}`, h, nil); r.status != http.StatusForbidden ||
			r.contentType != "application/json" || !strings.Contains(r.body, `"error"`) {
			t.Errorf("login JSON POST with %s: %d %s %s, want a JSON 403", name, r.status, r.contentType, r.body)
		}
	}
	e.assertNoOtherJobs(t)
	for name, h := range sameOriginAll(e) {
		if r := post("/auth/magic-link", "application/x-www-form-urlencoded", form, h, nil); r.status != http.StatusAccepted {
			t.Errorf("login POST with %s: %d, want 202", name, r.status)
		}
	}
	testenv.ReceiveAll(t.Context(), t, e.sqs, e.queueURL, 3, 10*time.Second)

	// A page elsewhere cannot sign a visitor out either.
	id, err := e.store.CreateSession(t.Context(), recipient(t, "ada"), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	session := &http.Cookie{Name: webapp.SessionCookie, Value: id}
	if r := post("/auth/sign-out", "", "", crossSite, session); r.status != http.StatusForbidden {
		t.Errorf("cross-site sign-out: %d, want 403", r.status)
	}
	if _, err := e.store.GetSession(t.Context(), id, time.Now()); err != nil {
		t.Fatalf("after a refused sign-out the session is %v, want kept", err)
	}
}

// clientFrom returns an HTTP transport whose connections come from the
// loopback address ip, another client as the app sees it.
func clientFrom(t *testing.T, ip string) http.RoundTripper {
	tr := &http.Transport{DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}).DialContext}
	t.Cleanup(tr.CloseIdleConnections)
	return tr
}

// postLinkFrom posts email to /auth/magic-link through rt.
func (e *env) postLinkFrom(t *testing.T, rt http.RoundTripper, email string) reply {
	t.Helper()
	req := newRequest(t, http.MethodPost, e.srv.URL+"/auth/magic-link", "application/x-www-form-urlencoded", url.Values{"email": {email}}.Encode())
	return doWith(t, rt, req)
}

func TestMagicLinkPost_AFloodFromOneClientGets429WhileOthersAreServed(t *testing.T) {
	const burst = 3
	e := newEnv(t, envOptions{app: func(c *webapp.Config) { c.LoginBurst, c.LoginInterval = burst, time.Minute }})
	known, unknown := recipient(t, "known"), recipient(t, "unknown")
	if err := e.store.PutUser(t.Context(), known, "Ada"); err != nil {
		t.Fatal(err)
	}
	flooder, other := clientFrom(t, "127.0.0.1"), clientFrom(t, "127.0.0.2")

	for i := range burst {
		if r := e.postLinkFrom(t, flooder, []string{known, unknown}[i%2]); r.status != http.StatusAccepted {
			t.Fatalf("request %d of the burst: %d %s, want 202", i+1, r.status, r.body)
		}
	}
	// Over the burst, known and unknown addresses get the same 429.
	a, b := e.postLinkFrom(t, flooder, known), e.postLinkFrom(t, flooder, unknown)
	for _, r := range []reply{a, b} {
		secs, err := strconv.Atoi(r.retryAfter)
		if r.status != http.StatusTooManyRequests || err != nil || secs < 1 || secs > 60 {
			t.Fatalf("over the burst: %d Retry-After %q, want 429 with Retry-After 1 to 60 seconds:\n%s", r.status, r.retryAfter, r.body)
		}
	}
	if a.contentType != b.contentType || a.body != b.body {
		t.Errorf("429 answers differ:\nknown:   %s %q\nunknown: %s %q", a.contentType, a.body, b.contentType, b.body)
	}
	// Another client is still served.
	if r := e.postLinkFrom(t, other, unknown); r.status != http.StatusAccepted {
		t.Fatalf("another client during the flood: %d %s, want 202", r.status, r.body)
	}
	// The refused requests enqueued nothing.
	msgs := testenv.ReceiveAll(t.Context(), t, e.sqs, e.queueURL, burst+1, 10*time.Second)
	e.assertNoOtherJobs(t, msgs...)
}
