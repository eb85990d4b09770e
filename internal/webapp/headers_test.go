package webapp_test

import (
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/busywork/busywork/internal/webapp"
)

// checkSecurityHeaders fails the test unless h carries the headers that
// keep a browser safe: a CSP without inline script that no site may
// frame, nosniff, a referrer policy.
func checkSecurityHeaders(t *testing.T, what string, h http.Header) {
	t.Helper()
	csp := h.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("%s: Content-Security-Policy %q lacks %s", what, csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
		t.Errorf("%s: Content-Security-Policy %q allows inline script", what, csp)
	}
	for name, want := range map[string]string{"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"} {
		if got := h.Get(name); got != want {
			t.Errorf("%s: %s %q, want %q", what, name, got, want)
		}
	}
}

var (
	scriptTag    = regexp.MustCompile(`(?is)<script\b([^>]*)>(.*?)</script>`)
	inlineScript = regexp.MustCompile(`(?i)\son[a-z]+\s*=|javascript:|<style\b|\sstyle\s*=`)
)

// checkNoInlineScript fails the test if the HTML page holds a script
// element with content or without src, an event handler attribute, a
// javascript: URL or inline style: what the CSP would block.
func checkNoInlineScript(t *testing.T, what, body string) {
	t.Helper()
	for _, m := range scriptTag.FindAllStringSubmatch(body, -1) {
		if strings.TrimSpace(m[2]) != "" || !strings.Contains(m[1], `src="/static/`) {
			t.Errorf("%s holds an inline script: %s", what, m[0])
		}
	}
	if strings.Count(body, "<script") != len(scriptTag.FindAllString(body, -1)) {
		t.Errorf("%s holds a script element that is not closed:\n%s", what, body)
	}
	if m := inlineScript.FindString(body); m != "" {
		t.Errorf("%s holds %q, inline script or style:\n%s", what, m, body)
	}
}

func TestSecurityHeaders_OnEveryResponseOfTheAppAndNoPageHoldsInlineScript(t *testing.T) {
	e := newEnv(t, envOptions{app: func(c *webapp.Config) { c.LoginBurst = 1 }})
	ada := recipient(t, "ada")
	session := e.signIn(t, ada)
	token, err := e.store.CreateToken(t.Context(), ada, 0)
	if err != nil {
		t.Fatal(err)
	}
	form := "application/x-www-form-urlencoded"
	link := url.Values{"email": {ada}}.Encode()
	tests := []struct {
		name, method, path, contentType, body string
		cookie                                bool
		header                                []string
		status                                int
	}{
		{"the login page", http.MethodGet, "/", "", "", false, nil, http.StatusOK},
		{"the signed-in page", http.MethodGet, "/", "", "", true, nil, http.StatusOK},
		{"a login", http.MethodPost, "/auth/magic-link", form, link, false, nil, http.StatusAccepted},
		{"a login over the throttle", http.MethodPost, "/auth/magic-link", form, link, false, nil, http.StatusTooManyRequests},
		{"the confirm page", http.MethodGet, "/auth/verify?token=" + token, "", "", false, nil, http.StatusOK},
		{"a bad link", http.MethodGet, "/auth/verify?token=nope", "", "", false, nil, http.StatusUnauthorized},
		{"the confirm POST", http.MethodPost, "/auth/verify", form, url.Values{"token": {token}}.Encode(), false, nil, http.StatusSeeOther},
		{"an order page", http.MethodPost, "/orders", form, "event=Gala&tickets=2", true, nil, http.StatusAccepted},
		{"a bad order", http.MethodPost, "/orders", form, "event=Gala&tickets=x", true, nil, http.StatusBadRequest},
		{"an order signed out", http.MethodPost, "/orders", form, "event=Gala&tickets=2", false, nil, http.StatusSeeOther},
		{"a JSON order signed out", http.MethodPost, "/orders", "application/json", `{"event":"Gala","tickets":2}`, false, nil, http.StatusUnauthorized},
		{"a cross-site POST", http.MethodPost, "/orders", form, "event=Gala&tickets=2", true, []string{"Sec-Fetch-Site", "cross-site"}, http.StatusForbidden},
		{"an unknown order", http.MethodGet, "/orders/nope", "", "", false, nil, http.StatusNotFound},
		{"the script", http.MethodGet, "/static/order.js", "", "", false, nil, http.StatusOK},
		{"the stylesheet", http.MethodGet, "/static/app.css", "", "", false, nil, http.StatusOK},
		{"health", http.MethodGet, "/healthz", "", "", false, nil, http.StatusOK},
		{"metrics", http.MethodGet, "/metrics", "", "", false, nil, http.StatusOK},
		{"no such page", http.MethodGet, "/nothing-here", "", "", false, nil, http.StatusNotFound},
		{"a wrong method", http.MethodPut, "/", "", "", false, nil, http.StatusMethodNotAllowed},
		{"a sign-out", http.MethodPost, "/auth/sign-out", "", "", true, nil, http.StatusSeeOther},
	}
	for _, tt := range tests {
		req := newRequest(t, tt.method, e.srv.URL+tt.path, tt.contentType, tt.body)
		if tt.cookie {
			req.AddCookie(session)
		}
		for i := 0; i+1 < len(tt.header); i += 2 {
			req.Header.Set(tt.header[i], tt.header[i+1])
		}
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		r := string(b)
		if resp.StatusCode != tt.status {
			t.Errorf("%s: %d, want %d:\n%s", tt.name, resp.StatusCode, tt.status, r)
		}
		checkSecurityHeaders(t, tt.name, resp.Header)
		if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
			checkNoInlineScript(t, tt.name, r)
		}
		if tt.name == "the script" && resp.Header.Get("Content-Type") != "text/javascript; charset=utf-8" {
			t.Errorf("the script: Content-Type %q", resp.Header.Get("Content-Type"))
		}
		if tt.name == "the stylesheet" && resp.Header.Get("Content-Type") != "text/css; charset=utf-8" {
			t.Errorf("the stylesheet: Content-Type %q", resp.Header.Get("Content-Type"))
		}
	}
}
