package console

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/busywork/busywork/internal/dlq"
)

// noSQS answers every count with nothing: for tests that call no AWS.
type noSQS struct{}

func (noSQS) GetQueueAttributes(context.Context, *sqs.GetQueueAttributesInput, ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error) {
	return &sqs.GetQueueAttributesOutput{}, nil
}

// newTestServer returns a console of one lane whose queues it never
// reads, with cfg's other settings.
func newTestServer(t *testing.T, cfg Config) *Server {
	t.Helper()
	cfg.Lanes = []Lane{{Name: "default", Queue: &dlq.Queue{Name: "q", DeadLetterName: "q-dlq"}}}
	cfg.SQS = noSQS{}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestLoopbackAddr_OnlyTheLoopbackInterfaceCounts(t *testing.T) {
	tests := []struct {
		addr string
		want bool
	}{
		{"127.0.0.1:8081", true},
		{"127.0.0.2:8081", true},
		{"[::1]:8081", true},
		{"localhost:8081", true},
		{"LOCALHOST:0", true},
		{":8081", false},
		{"0.0.0.0:8081", false},
		{"[::]:8081", false},
		{"10.0.0.5:8081", false},
		{"console.internal:8081", false}, // not resolved: it could name any address
	}
	for _, tt := range tests {
		if got, err := LoopbackAddr(tt.addr); err != nil || got != tt.want {
			t.Errorf("LoopbackAddr(%q) = %v, %v; want %v", tt.addr, got, err, tt.want)
		}
	}
	if _, err := LoopbackAddr("8081"); err == nil {
		t.Error("LoopbackAddr(\"8081\") took an address without a host part")
	}
}

func TestToken_IsTiedToTheCookieTheProcessAndTheTime(t *testing.T) {
	now := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	s := newTestServer(t, Config{})
	other := newTestServer(t, Config{})
	tok := s.newToken("cookie-a", now)

	tests := []struct {
		name   string
		check  func() error
		wantOK bool
	}{
		{"its page, its cookie", func() error { return s.checkToken(tok, "cookie-a", now.Add(time.Hour)) }, true},
		{"another browser's cookie", func() error { return s.checkToken(tok, "cookie-b", now) }, false},
		{"another console process", func() error { return other.checkToken(tok, "cookie-a", now) }, false},
		{"older than TokenTTL", func() error { return s.checkToken(tok, "cookie-a", now.Add(TokenTTL+time.Second)) }, false},
		{"no token", func() error { return s.checkToken("", "cookie-a", now) }, false},
		{"one byte changed", func() error {
			b := []byte(tok)
			b[3] ^= 1
			return s.checkToken(string(b), "cookie-a", now)
		}, false},
	}
	for _, tt := range tests {
		if err := tt.check(); (err == nil) != tt.wantOK {
			t.Errorf("%s: %v, want ok %v", tt.name, err, tt.wantOK)
		}
	}
	if s.newToken("cookie-a", now) == tok {
		t.Error("two pages got the same token: each page draws its own nonce")
	}
}

// page loads the console's page from srv and returns its token and the
// cookie it set.
func page(t *testing.T, srv *httptest.Server) (token string, cookie *http.Cookie) {
	t.Helper()
	resp, err := srv.Client().Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body strings.Builder
	if _, err := io.Copy(&body, resp.Body); err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(body.String(), `<meta name="console-token" content="`)
	token, _, _ = strings.Cut(rest, `"`)
	if !ok || token == "" || len(resp.Cookies()) != 1 {
		t.Fatalf("GET / gave no token or no cookie: %v\n%s", resp.Cookies(), body.String())
	}
	return token, resp.Cookies()[0]
}

func TestAPI_RefusesAPostWithoutTheSameOriginJSONAndThePagesToken(t *testing.T) {
	srv := httptest.NewServer(newTestServer(t, Config{}))
	defer srv.Close()
	token, cookie := page(t, srv)
	if !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode {
		t.Errorf("cookie %+v: want HttpOnly and SameSite=Strict", cookie)
	}

	// A POST that passes every check reaches the handler, which says the
	// request names no row (400), not 403.
	post := func(mutate func(r *http.Request)) (int, string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodPost, srv.URL+"/api/lanes/default/purge", strings.NewReader(`{"type":"","error":""}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(TokenHeader, token)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		req.AddCookie(cookie)
		mutate(req)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body strings.Builder
		_, _ = io.Copy(&body, resp.Body)
		return resp.StatusCode, body.String()
	}
	tests := []struct {
		name   string
		mutate func(r *http.Request)
		code   int
		says   string
	}{
		{"the console's own page", func(*http.Request) {}, http.StatusBadRequest, "names its row"},
		{"another site, by Sec-Fetch-Site", func(r *http.Request) { r.Header.Set("Sec-Fetch-Site", "cross-site") }, http.StatusForbidden, "another site"},
		{"another port of 127.0.0.1", func(r *http.Request) { r.Header.Set("Sec-Fetch-Site", "same-site") }, http.StatusForbidden, "another site"},
		{"another origin, no Sec-Fetch-Site", func(r *http.Request) {
			r.Header.Del("Sec-Fetch-Site")
			r.Header.Set("Origin", "http://evil.example")
		}, http.StatusForbidden, "another site"},
		{"no token", func(r *http.Request) { r.Header.Del(TokenHeader) }, http.StatusForbidden, "page token"},
		{"no cookie", func(r *http.Request) { r.Header.Del("Cookie") }, http.StatusForbidden, "cookie"},
		{"a form, not JSON", func(r *http.Request) { r.Header.Set("Content-Type", "application/x-www-form-urlencoded") }, http.StatusForbidden, "JSON"},
		{"text/plain, as a form may send", func(r *http.Request) { r.Header.Set("Content-Type", "text/plain") }, http.StatusForbidden, "JSON"},
	}
	for _, tt := range tests {
		if code, body := post(tt.mutate); code != tt.code || !strings.Contains(body, tt.says) {
			t.Errorf("%s: %d %s; want %d saying %q", tt.name, code, body, tt.code, tt.says)
		}
	}

	// The API's reads answer only the console's own pages.
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/api/lanes", nil)
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("GET /api/lanes from another site: %s, want 403", resp.Status)
	}
}

func TestGuard_AnswersOnlyLoopbackHostsAndAsksThePassword(t *testing.T) {
	get := func(h http.Handler, host, user, pass string) int {
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Host = host
		if pass != "" {
			req.SetBasicAuth(user, pass)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Header().Get("Content-Security-Policy") == "" || rec.Header().Get("Cache-Control") != "no-store" {
			t.Errorf("%s: answer without the security headers: %v", host, rec.Header())
		}
		return rec.Code
	}
	local := newTestServer(t, Config{})
	for host, want := range map[string]int{
		"127.0.0.1:8081":        http.StatusOK,
		"localhost:8081":        http.StatusOK,
		"[::1]:8081":            http.StatusOK,
		"evil.example:8081":     http.StatusMisdirectedRequest, // a name rebound to 127.0.0.1
		"10.0.0.5:8081":         http.StatusMisdirectedRequest,
		"127.0.0.1.nip.io:8081": http.StatusMisdirectedRequest,
	} {
		if got := get(local, host, "", ""); got != want {
			t.Errorf("Host %s: %d, want %d", host, got, want)
		}
	}

	remote := newTestServer(t, Config{Remote: true, Password: "a-long-random-password"})
	for _, tt := range []struct {
		name, user, pass string
		want             int
	}{
		{"no password", "", "", http.StatusUnauthorized},
		{"a wrong one", "ops", "a-long-random-passwore", http.StatusUnauthorized},
		{"the password, any user", "ops", "a-long-random-password", http.StatusOK},
	} {
		if got := get(remote, "console.internal:8081", tt.user, tt.pass); got != tt.want {
			t.Errorf("remote console, %s: %d, want %d", tt.name, got, tt.want)
		}
	}
}
