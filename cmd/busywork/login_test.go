package main_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/busywork/busywork/internal/testenv"
)

// webRequest makes one request to the web app with a client that follows
// no redirects, posting form unless it is nil, and returns the response
// with its body read.
func webRequest(t *testing.T, method, u string, form url.Values, header http.Header, cookies ...*http.Cookie) (*http.Response, string) {
	t.Helper()
	if form == nil {
		return webRequestBody(t, method, u, "", header, cookies...)
	}
	h := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	for k, v := range header {
		h[k] = v
	}
	return webRequestBody(t, method, u, form.Encode(), h, cookies...)
}

// webRequestBody is webRequest with a body of its own (say, JSON, with
// its Content-Type in header).
func webRequestBody(t *testing.T, method, u, body string, header http.Header, cookies ...*http.Cookie) (*http.Response, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	for _, c := range cookies {
		req.AddCookie(c)
	}
	resp, err := (&http.Transport{}).RoundTrip(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func TestWebAndWorker_LinkConfirmSignInSignOutAndTheThrottleFromTheEnvironment(t *testing.T) {
	testenv.Require(t)
	email := strings.ToLower(testenv.UniqueName(t, "ada", 40)) + "@example.com"
	base := startWebAndWorker(t, email, "BUSYWORK_LOGIN_BURST=2")
	since := time.Now().Add(-time.Second)

	// Two requests fit BUSYWORK_LOGIN_BURST; the third gets 429.
	for i, to := range []string{email, "nobody-" + email, email} {
		resp, body := webRequest(t, http.MethodPost, base+"/auth/magic-link", url.Values{"email": {to}}, nil)
		if want := []int{http.StatusAccepted, http.StatusAccepted, http.StatusTooManyRequests}[i]; resp.StatusCode != want {
			t.Fatalf("login POST %d: %s, want %d:\n%s", i+1, resp.Status, want, body)
		}
	}

	token := awaitToken(t, since, email)
	verify := base + "/auth/verify?token=" + url.QueryEscape(token)
	if resp, body := webRequest(t, http.MethodGet, verify, nil, nil); resp.StatusCode != http.StatusOK || !strings.Contains(body, "Sign in as <strong>"+email+"</strong>?") {
		t.Fatalf("GET of the link: %s, want the confirm page:\n%s", resp.Status, body)
	}
	if resp, _ := webRequest(t, http.MethodPost, base+"/auth/verify", url.Values{"token": {token}}, http.Header{"Sec-Fetch-Site": {"cross-site"}}); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-site confirm POST: %s, want 403", resp.Status)
	}
	resp, body := webRequest(t, http.MethodPost, base+"/auth/verify", url.Values{"token": {token}}, http.Header{"Sec-Fetch-Site": {"same-origin"}})
	cookies := resp.Cookies()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" || len(cookies) != 1 {
		t.Fatalf("confirm POST: %s to %q with cookies %v, want 303 to / with the session cookie:\n%s", resp.Status, resp.Header.Get("Location"), cookies, body)
	}
	if resp, body := webRequest(t, http.MethodGet, base+"/", nil, nil, cookies[0]); resp.StatusCode != http.StatusOK || !strings.Contains(body, "Signed in as <strong>"+email+"</strong>") {
		t.Fatalf("GET / signed in: %s, want who is signed in:\n%s", resp.Status, body)
	}
	if resp, _ := webRequest(t, http.MethodPost, base+"/auth/sign-out", url.Values{}, http.Header{"Sec-Fetch-Site": {"same-origin"}}, cookies[0]); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-out: %s, want 303", resp.Status)
	}
	if resp, body := webRequest(t, http.MethodGet, base+"/", nil, nil, cookies[0]); resp.StatusCode != http.StatusOK || strings.Contains(body, email) || !strings.Contains(body, `action="/auth/magic-link"`) {
		t.Fatalf("GET / after sign-out: %s, want the login form:\n%s", resp.Status, body)
	}
}

// startWebAndWorker runs `busywork web` and `busywork worker` on lanes and
// a table of the test's own, with user email added and the extra
// variables set, and returns the web app's base URL.
func startWebAndWorker(t *testing.T, email string, extra ...string) string {
	t.Helper()
	table := testenv.NewTable(t, testenv.DynamoDB(t))
	env := append(workerEnv(newLanes(t, testenv.QueueOptions{})), "BUSYWORK_TABLE="+table, "BUSYWORK_WEB_ADDR=127.0.0.1:0")
	env = append(env, extra...)
	if r := runBusywork(t, env, "user", "add", "--name", "Ada", email); r.code != 0 {
		t.Fatalf("user add: exit %d, stderr:\n%s", r.code, r.stderr)
	}
	web := startBusywork(t, env, "web")
	startWorker(t, env)
	return "http://" + web.Await(t, "the web listener", func(l testenv.LogLine) bool { return l["msg"] == "web listening" })["addr"].(string)
}

var mailedToken = regexp.MustCompile(`/auth/verify\?token=([A-Za-z0-9_-]+)`)

// awaitToken waits for the login mail to to and returns its token.
func awaitToken(t *testing.T, since time.Time, to string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		for _, m := range testenv.Mails(t, since) {
			if slices.Contains(m.Destination.To, to) {
				if sub := mailedToken.FindStringSubmatch(m.Body.Text); sub != nil {
					return sub[1]
				}
				t.Fatalf("the mail to %s holds no link:\n%s", to, m.Body.Text)
			}
		}
		time.Sleep(100 * time.Millisecond) // polling the emulator's store
	}
	t.Fatalf("no mail to %s within 30 s", to)
	return ""
}
