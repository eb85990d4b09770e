package console

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

// worker serves /metrics with busywork_jobs_total counts it is told.
type worker struct {
	succeeded, failed, other atomic.Int64
	down                     atomic.Bool
}

func (w *worker) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	if w.down.Load() || r.URL.Path != "/metrics" {
		http.Error(rw, "no", http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintf(rw, "# HELP busywork_jobs_total Jobs finished.\n# TYPE busywork_jobs_total counter\n"+
		"busywork_jobs_total{lane=\"bulk\",outcome=\"succeeded\",type=\"ping\"} %d\n"+
		"busywork_jobs_total{lane=\"bulk\",outcome=\"dead_lettered\",type=\"ping\"} %d\n"+
		"busywork_jobs_total{lane=\"bulk\",outcome=\"snoozed\",type=\"ping\"} %d\n"+
		"# TYPE go_goroutines gauge\ngo_goroutines 12\n", w.succeeded.Load(), w.failed.Load(), w.other.Load())
}

func TestFleet_RateIsTheWorkersCountersOverTime(t *testing.T) {
	var a, b worker
	srvA, srvB := httptest.NewServer(&a), httptest.NewServer(&b)
	defer srvA.Close()
	defer srvB.Close()
	f, err := newFleet([]string{srvA.URL, srvB.URL + "/metrics"}, srvA.Client())
	if err != nil {
		t.Fatal(err)
	}
	ctx, t0 := context.Background(), time.Now()

	// The first answer of each worker gives no rate yet.
	a.succeeded.Store(100)
	b.succeeded.Store(1000)
	if r := f.scrape(ctx, t0)[""]; r == nil || r.Answered != 0 || r.Workers != 2 {
		t.Fatalf("first scrape: %+v, want no worker counted yet of 2", r)
	}
	// 10 s later: a did 50 more and 10 dead letters; b restarted (its
	// counter began again) and did 30; snoozes count as neither.
	a.succeeded.Store(150)
	a.failed.Store(10)
	a.other.Store(999)
	b.succeeded.Store(30)
	r := f.scrape(ctx, t0.Add(10*time.Second))["bulk"]
	if r == nil || math.Abs(r.Succeeded-8) > 1e-9 || math.Abs(r.Failed-1) > 1e-9 || r.Answered != 2 {
		t.Fatalf("second scrape: %+v, want 8/s succeeded ((50+30)/10), 1/s failed, 2 workers", r)
	}
	// b stops answering: the rate is a's alone, and says why.
	b.down.Store(true)
	a.succeeded.Store(170)
	r = f.scrape(ctx, t0.Add(20*time.Second))["bulk"]
	if r == nil || math.Abs(r.Succeeded-2) > 1e-9 || r.Answered != 1 || r.Error == "" {
		t.Fatalf("third scrape: %+v, want 2/s from 1 of 2 workers, with b's error", r)
	}
}

func TestParseMetricsURLs_TakesHTTPURLsAndAddsThePath(t *testing.T) {
	got, err := ParseMetricsURLs(" http://10.0.0.5:9090, https://w2.internal:9090/custom ,")
	if err != nil || len(got) != 2 || got[0] != "http://10.0.0.5:9090/metrics" || got[1] != "https://w2.internal:9090/custom" {
		t.Errorf("ParseMetricsURLs = %v, %v", got, err)
	}
	for _, bad := range []string{"10.0.0.5:9090", "ftp://h/metrics", "http://", "http://user:pw@h:9090"} {
		if _, err := ParseMetricsURLs(bad); err == nil {
			t.Errorf("ParseMetricsURLs(%q) took it", bad)
		}
	}
}
