package main_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/busywork/busywork/internal/testenv"
)

func TestWebAndWorker_OnlyASignedInUserOrdersTheTicketsGoToThemAndTheOrderThrottleComesFromTheEnvironment(t *testing.T) {
	testenv.Require(t)
	ada := strings.ToLower(testenv.UniqueName(t, "ada", 40)) + "@example.com"
	stranger := strings.ToLower(testenv.UniqueName(t, "stranger", 40)) + "@example.com"
	base := startWebAndWorker(t, ada, "BUSYWORK_ORDER_BURST=1", "BUSYWORK_ORDER_INTERVAL=1h")
	since := time.Now().Add(-time.Second)
	order := url.Values{"email": {stranger}, "event": {"Spam"}, "tickets": {"2"}}
	jsonOrder := http.Header{"Content-Type": {"application/json"}}

	// Signed out: nothing is enqueued, whatever the request says.
	resp, body := webRequest(t, http.MethodPost, base+"/orders", order, nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/#sign-in" {
		t.Fatalf("form order signed out: %s to %q, want 303 to /#sign-in:\n%s", resp.Status, resp.Header.Get("Location"), body)
	}
	resp, body = webRequestBody(t, http.MethodPost, base+"/orders", `{"email":"`+stranger+`","event":"Spam","tickets":1000}`, jsonOrder)
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "Sign in to order tickets") {
		t.Fatalf("JSON order signed out: %s, want 401:\n%s", resp.Status, body)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("the 401 carries CSP %q and nosniff %q, want the security headers", csp, resp.Header.Get("X-Content-Type-Options"))
	}

	// Ada signs in with her link.
	if resp, _ := webRequest(t, http.MethodPost, base+"/auth/magic-link", url.Values{"email": {ada}}, nil); resp.StatusCode != http.StatusAccepted {
		t.Fatalf("login POST: %s", resp.Status)
	}
	token := awaitToken(t, since, ada)
	resp, _ = webRequest(t, http.MethodPost, base+"/auth/verify", url.Values{"token": {token}}, nil)
	cookies := resp.Cookies()
	if resp.StatusCode != http.StatusSeeOther || len(cookies) != 1 {
		t.Fatalf("confirm POST: %s with cookies %v", resp.Status, cookies)
	}

	// Her order names a stranger: the tickets go to her.
	resp, body = webRequestBody(t, http.MethodPost, base+"/orders", `{"email":"`+stranger+`","event":"Gala","tickets":2}`, jsonOrder, cookies[0])
	var ans struct {
		OrderID string `json:"order_id"`
		Email   string `json:"email"`
	}
	if resp.StatusCode != http.StatusAccepted || json.Unmarshal([]byte(body), &ans) != nil || ans.Email != ada {
		t.Fatalf("JSON order signed in: %s %s, want 202 to %s", resp.Status, body, ada)
	}
	// BUSYWORK_ORDER_BURST=1: the next order waits.
	resp, body = webRequest(t, http.MethodPost, base+"/orders", order, nil, cookies[0])
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("second order: %s Retry-After %q, want 429 with Retry-After:\n%s", resp.Status, resp.Header.Get("Retry-After"), body)
	}

	deadline := time.Now().Add(time.Minute)
	for {
		var toAda, toStranger int
		for _, m := range testenv.Mails(t, since) {
			switch {
			case slices.Contains(m.Destination.To, stranger):
				toStranger++
			case slices.Contains(m.Destination.To, ada) && len(m.Attachments) == 2 && strings.Contains(m.Subject, "Gala"):
				toAda++
			}
		}
		if toStranger != 0 {
			t.Fatalf("%d emails to the stranger", toStranger)
		}
		if toAda == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no email with 2 tickets to %s within a minute", ada)
		}
		time.Sleep(200 * time.Millisecond) // polling the SES emulator's store
	}
}
