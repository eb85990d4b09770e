package testenv

import (
	"context"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/busywork/busywork/awsclient"
)

// Delay says how a [DelayProxy] slows the requests that reach it.
type Delay struct {
	// Before holds each request this long before it is forwarded. A client
	// that gives up meanwhile is never forwarded: the emulator does not
	// see the request, as if it had been lost on the way.
	Before time.Duration
	// After holds each response this long once the emulator has answered:
	// the emulator did the work, and the client hears of it late (or,
	// having given up, never).
	After time.Duration
	// Count is how many requests, from the call to Set on, get the delay;
	// later ones pass at once. 0 means every request.
	Count int
}

// DelayProxy is a reverse proxy on the loopback interface in front of an
// emulator that slows its requests as the test says: an emulator cannot
// be told to be slow or to hang. Point a client at URL (its BaseEndpoint).
// Requests pass at once until [DelayProxy.Set] says otherwise.
type DelayProxy struct {
	// URL is the proxy's base URL.
	URL string

	done chan struct{} // closed when the test ends: held requests let go

	mu      sync.Mutex
	delay   Delay
	delayed int // requests delayed since the last Set
	seen    int // requests that reached the proxy
}

// NewDelayProxy starts a DelayProxy in front of target, an emulator's
// base URL (such as the value of AWS_ENDPOINT_URL_SQS), and stops it when
// the test ends. Requests keep their Host header, so their signatures stay
// valid. It calls [Require] and refuses a target off the loopback
// interface.
func NewDelayProxy(t testing.TB, target string) *DelayProxy {
	t.Helper()
	Require(t)
	u, err := url.Parse(target)
	if err != nil || !awsclient.IsLocalEndpoint(target) {
		t.Fatalf("testenv: proxy target %q: %s", target, notLocal)
	}
	p := &DelayProxy{done: make(chan struct{})}
	transport := &http.Transport{}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(u)
			r.Out.Host = r.In.Host
		},
		Transport: transport,
		ModifyResponse: func(resp *http.Response) error {
			return p.hold(resp.Request.Context(), delayOf(resp.Request).After)
		},
		// The client gave up: nobody reads the answer, or hears of it.
		ErrorHandler: func(w http.ResponseWriter, _ *http.Request, _ error) { w.WriteHeader(http.StatusBadGateway) },
		ErrorLog:     log.New(io.Discard, "", 0),
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d := p.arrive()
		r = r.WithContext(context.WithValue(r.Context(), delayKey{}, d))
		if p.hold(r.Context(), d.Before) != nil {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	p.URL = srv.URL
	t.Cleanup(func() {
		close(p.done)
		srv.Close()
		transport.CloseIdleConnections()
	})
	return p
}

// Set makes the proxy delay the requests that arrive from now on as d
// says; Set(Delay{}) lets them pass at once.
func (p *DelayProxy) Set(d Delay) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.delay, p.delayed = d, 0
}

// Requests returns how many requests have reached the proxy, delayed or
// not, forwarded or given up.
func (p *DelayProxy) Requests() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.seen
}

// delayKey keys the Delay a request got in its context.
type delayKey struct{}

// arrive counts a request and returns the delay it gets.
func (p *DelayProxy) arrive() Delay {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seen++
	if p.delay.Count > 0 && p.delayed >= p.delay.Count {
		return Delay{}
	}
	p.delayed++
	return p.delay
}

// delayOf returns the delay that arrive gave the request out was made for.
func delayOf(out *http.Request) Delay {
	d, _ := out.Context().Value(delayKey{}).(Delay)
	return d
}

// hold waits d, or until ctx ends (the client gave up: its error) or the
// test does.
func (p *DelayProxy) hold(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-p.done:
		return context.Canceled
	}
}
