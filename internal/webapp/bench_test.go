package webapp_test

import (
	"io"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/busywork/busywork/internal/webapp"
	"github.com/busywork/busywork/producer"
)

// benchClients is how many clients post at once.
const benchClients = 64

// BenchmarkMagicLinkPost measures POST /auth/magic-link through a real
// loopback listener and the real producer on a fauxqs queue, with 64
// clients at once, without and with micro-batching. Each reports req/s and
// the 99th percentile latency; batching=on also reports its speed-up over
// off (x-vs-off), which the parent logs.
func BenchmarkMagicLinkPost(b *testing.B) {
	reqPerSec := map[string]float64{}
	for _, mode := range []struct {
		name string
		opts []func(*producer.Options)
	}{
		{"batching=off", nil},
		{"batching=on", []func(*producer.Options){producer.WithBatching(producer.SuggestedBatchWindow)}},
	} {
		b.Run(mode.name, func(b *testing.B) {
			// All 64 clients are one address: the login throttle is out of the way.
			noThrottle := func(c *webapp.Config) { c.LoginBurst = math.MaxInt32 }
			rps := benchPosts(b, newEnv(b, envOptions{prodOpts: mode.opts, app: noThrottle}))
			reqPerSec[mode.name] = rps
			if off := reqPerSec["batching=off"]; mode.name == "batching=on" && off > 0 {
				b.ReportMetric(rps/off, "x-vs-off")
			}
		})
	}
	// A parent benchmark's log shows only with -v; the x-vs-off metric of
	// batching=on always does.
	if off, on := reqPerSec["batching=off"], reqPerSec["batching=on"]; off > 0 && on > 0 {
		b.Logf("batching on/off: %.0f / %.0f req/s = %.2fx", on, off, on/off)
	}
}

// benchPosts makes b.N posts from benchClients clients and returns req/s.
func benchPosts(b *testing.B, e *env) float64 {
	client := &http.Client{Transport: &http.Transport{
		Proxy:               nil,
		MaxIdleConns:        benchClients,
		MaxIdleConnsPerHost: benchClients,
	}}
	defer client.CloseIdleConnections()
	body := url.Values{"email": {"bench@example.com"}}.Encode()

	var (
		next      atomic.Int64
		failures  atomic.Int64
		mu        sync.Mutex
		latencies = make([]time.Duration, 0, b.N)
		wg        sync.WaitGroup
	)
	b.ResetTimer()
	start := time.Now()
	for range benchClients {
		wg.Go(func() {
			var mine []time.Duration
			for next.Add(1) <= int64(b.N) {
				t0 := time.Now()
				resp, err := client.Post(e.srv.URL+"/auth/magic-link", "application/x-www-form-urlencoded", strings.NewReader(body))
				if err != nil {
					failures.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				if resp.StatusCode != http.StatusAccepted {
					failures.Add(1)
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			latencies = append(latencies, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if n := failures.Load(); n > 0 {
		b.Fatalf("%d of %d posts failed or were not answered 202", n, b.N)
	}
	rps := float64(b.N) / elapsed.Seconds()
	b.ReportMetric(rps, "req/s")
	b.ReportMetric(float64(percentile(latencies, 0.99))/float64(time.Millisecond), "p99-ms")
	return rps
}

// percentile returns the p-quantile (0 < p <= 1) of ds.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	return ds[min(len(ds)-1, int(float64(len(ds))*p))]
}
