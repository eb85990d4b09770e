//go:build linux

package rtt_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/busywork/busywork/bench/internal/drain"
)

// BenchmarkProxyCost measures the CPU a proxy adds to each request: 4 or
// 64 clients on kept-alive connections post 400 bytes (about a
// ReceiveMessage) to a server in this process that answers 4 KB (about
// ten messages), directly, through a Proxy, and through net/http's reverse
// proxy with a transport that keeps 100 idle connections per host (what
// testenv.DelayProxy would be with a tuned transport), at round trips 0
// and 20 ms. cpu-us/req is the whole process's user+system CPU per
// request (clients, server and proxy): a proxy's own cost is its figure
// less the direct one at the same round trip, where each client waits the
// round trip before each request (the same rate, and as many wake-ups of
// the clients and the server). With 4 clients at 20 ms (200 requests a
// second) the process is idle most of the time, and every request pays
// for waking it.
//
//	go test -run '^$' -bench ProxyCost -benchtime 2000x ./internal/rtt
func BenchmarkProxyCost(b *testing.B) {
	answer := strings.Repeat("m", 4000)
	srv, _ := server(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, answer)
	}))
	for _, clients := range []int{4, 64} {
		for _, d := range []time.Duration{0, 20 * time.Millisecond} {
			at := fmt.Sprintf("/clients=%d/rtt=%s", clients, d)
			b.Run("direct"+at, func(b *testing.B) {
				measure(b, clients, srv.URL, d)
			})
			b.Run("rtt.Proxy"+at, func(b *testing.B) {
				measure(b, clients, start(b, srv.URL, d).URL, 0)
			})
			b.Run("httputil"+at, func(b *testing.B) {
				measure(b, clients, reverseProxy(b, srv.URL, d), 0)
			})
		}
	}
}

// measure sends b.N requests to url from clients goroutines, each waiting
// pause before each request, and reports the process's CPU per request.
func measure(b *testing.B, clients int, url string, pause time.Duration) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	defer client.CloseIdleConnections()
	body := strings.Repeat("r", 400)
	var next sync.Mutex
	left := b.N
	take := func() bool {
		next.Lock()
		defer next.Unlock()
		left--
		return left >= 0
	}
	cpu := drain.ProcessCPU()
	b.ResetTimer()
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for take() {
				if pause > 0 {
					time.Sleep(pause)
				}
				resp, err := client.Post(url, "text/plain", strings.NewReader(body))
				if err != nil {
					b.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(drain.ProcessCPU()-cpu)/float64(time.Microsecond)/float64(b.N), "cpu-us/req")
}

// reverseProxy starts net/http's reverse proxy in front of target, holding
// each request d before it forwards it, and returns its URL.
func reverseProxy(b *testing.B, target string, d time.Duration) string {
	u, err := url.Parse(target)
	if err != nil {
		b.Fatal(err)
	}
	rp := &httputil.ReverseProxy{
		Rewrite:   func(r *httputil.ProxyRequest) { r.SetURL(u); r.Out.Host = r.In.Host },
		Transport: &http.Transport{MaxIdleConns: 200, MaxIdleConnsPerHost: 100, DisableCompression: true},
	}
	srv, _ := server(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(d)
		rp.ServeHTTP(w, r)
	}))
	return srv.URL
}
