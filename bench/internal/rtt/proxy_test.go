package rtt_test

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/busywork/busywork/bench/internal/rtt"
)

// echoServer answers every request with its body, once it has read all of
// it, counting the connections it accepted.
func echoServer(t testing.TB) (srv *httptest.Server, conns *atomic.Int64) {
	return server(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Write(body)
	}))
}

// server serves h on the loopback until the test ends, counting the
// connections it accepted.
func server(t testing.TB, h http.Handler) (srv *httptest.Server, conns *atomic.Int64) {
	conns = new(atomic.Int64)
	srv = httptest.NewUnstartedServer(h)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, conns
}

// start starts a proxy in front of target and closes it when the test
// ends.
func start(t testing.TB, target string, d time.Duration) *rtt.Proxy {
	p, err := rtt.Start(target, d)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// post sends body to url with client and returns the answer's body.
func post(t testing.TB, client *http.Client, url, body string) string {
	resp, err := client.Post(url, "text/plain", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(got)
}

func TestProxy_HoldsEachRequestOfAKeptAliveConnectionForTheRoundTrip(t *testing.T) {
	const d = 20 * time.Millisecond
	srv, conns := echoServer(t)
	p := start(t, srv.URL, d)
	client := &http.Client{Transport: &http.Transport{}}
	for i := range 5 {
		began := time.Now()
		body := strings.Repeat("x", i*1000)
		if got := post(t, client, p.URL, body); got != body {
			t.Fatalf("request %d: answer of %d bytes, want its %d bytes back", i, len(got), len(body))
		}
		if took := time.Since(began); took < d {
			t.Errorf("request %d took %s, want at least the round trip %s", i, took, d)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("the emulator saw %d connections for 5 requests on one kept-alive client connection, want 1", n)
	}
	if s := p.Stats(); s.Conns != 1 || s.Chunks < 5 || s.Late < 0 {
		t.Errorf("Stats() = %+v, want 1 connection and at least 5 chunks, none early", s)
	}
}

func TestProxy_ForwardsALargeRequestWhole(t *testing.T) {
	srv, _ := echoServer(t)
	p := start(t, srv.URL, time.Millisecond)
	body := strings.Repeat("0123456789", 100_000) // many reads of the client's side
	if got := post(t, http.DefaultClient, p.URL, body); got != body {
		t.Fatalf("a 1 MB request came back as %d bytes, want it whole", len(got))
	}
}

// Requests on many connections are held side by side, not one after
// another: the round trip adds latency, not a queue.
func TestProxy_HoldsConcurrentRequestsSideBySide(t *testing.T) {
	const (
		d       = 20 * time.Millisecond
		clients = 50
		each    = 5
	)
	srv, _ := echoServer(t)
	p := start(t, srv.URL, d)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	began := time.Now()
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for range each {
				post(t, client, p.URL, "ping")
			}
		})
	}
	wg.Wait()
	// One after another they would take clients × each × d = 5 s.
	if took := time.Since(began); took > clients*each*d/5 {
		t.Errorf("%d clients × %d requests took %s, want about %s (each × the round trip)", clients, each, took, each*d)
	}
}

func TestStart_RefusesATargetOffTheLoopback(t *testing.T) {
	for _, target := range []string{
		"http://10.0.0.1:9324",
		"http://sqs.us-east-1.amazonaws.com:80",
		"https://127.0.0.1:9324",
		"http://127.0.0.1",
		"127.0.0.1:9324",
	} {
		if p, err := rtt.Start(target, 0); err == nil {
			p.Close()
			t.Errorf("Start(%q) succeeded, want a refusal", target)
		}
	}
	for _, target := range []string{"http://127.0.0.1:9324", "http://localhost:9324", "http://[::1]:9324"} {
		p, err := rtt.Start(target, 0)
		if err != nil {
			t.Errorf("Start(%q): %v, want a proxy", target, err)
			continue
		}
		p.Close()
	}
}

func TestProxy_CloseEndsOpenConnections(t *testing.T) {
	srv, _ := echoServer(t)
	p, err := rtt.Start(srv.URL, time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", strings.TrimPrefix(p.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	closed := make(chan error, 1)
	go func() { closed <- p.Close() }()
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return within 5 s with a client connection open")
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := c.Read(make([]byte, 1)); err == nil || n > 0 {
		t.Errorf("a client connection read %d bytes, %v after Close, want it closed", n, err)
	}
	if _, err := http.Post(p.URL, "text/plain", bytes.NewReader(nil)); err == nil {
		t.Error("a request after Close succeeded, want no listener")
	}
}
