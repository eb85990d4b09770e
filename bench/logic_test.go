//go:build linux

package bench_test

// Tests of BenchmarkDrain's pure logic, its plan and its summary; they
// need no emulator.

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/busywork/busywork/bench/internal/rtt"
)

func TestParseRTTs_ReadsLoopbackAndDurations(t *testing.T) {
	got, err := parseRTTs("loopback, 10ms,20ms,0s")
	if err != nil {
		t.Fatal(err)
	}
	want := []rttCase{
		{label: loopback, direct: true},
		{label: rtt10, delay: 10 * time.Millisecond},
		{label: rtt20, delay: 20 * time.Millisecond},
		{label: "0s"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("parseRTTs = %+v, want %+v", got, want)
	}
	for _, bad := range []string{"", "lan", "-5ms", "loopback,,20ms"} {
		if _, err := parseRTTs(bad); err == nil {
			t.Errorf("parseRTTs(%q) succeeded, want an error", bad)
		}
	}
}

// names returns the steps' scenario/consumer names, with a "!" after a
// SIGKILL run's.
func names(steps []step) []string {
	var ns []string
	for _, s := range steps {
		n := s.scenario + "/" + s.consumer
		if s.crash {
			n += "!"
		}
		ns = append(ns, n)
	}
	return ns
}

// The issue's matrix: busywork and the Go CDK at every round trip,
// concurrency 10 and 100, no-op drains and SIGKILL runs; the ideal client
// at every round trip; naive, 100 ms jobs and idle runs where they are
// cheap.
func TestPlan_RunsTheMatrixOfRoundTripsConcurrenciesAndConsumers(t *testing.T) {
	ks := []int{16, 128}
	tests := []struct {
		r    rttCase
		want []string
	}{
		{rttCase{label: loopback, direct: true}, []string{
			"noop/c=10/busywork", "noop/c=10/gocdk", "noop/c=10/naive",
			"noop/c=100/busywork", "noop/c=100/gocdk", "noop/c=100/naive",
			"ceiling/k=16/ceiling", "ceiling/k=128/ceiling",
			"crash/c=10/busywork!", "crash/c=10/gocdk!", "crash/c=100/busywork!", "crash/c=100/gocdk!",
			"idle/c=10/busywork", "idle/c=10/gocdk", "idle/c=10/naive",
			"100ms/c=10/busywork", "100ms/c=10/gocdk", "100ms/c=10/naive",
		}},
		{rttCase{label: rtt10, delay: 10 * time.Millisecond}, []string{
			"noop/c=10/busywork", "noop/c=10/gocdk", "noop/c=100/busywork", "noop/c=100/gocdk",
			"ceiling/k=16/ceiling", "ceiling/k=128/ceiling",
			"crash/c=10/busywork!", "crash/c=10/gocdk!", "crash/c=100/busywork!", "crash/c=100/gocdk!",
		}},
		{rttCase{label: rtt20, delay: 20 * time.Millisecond}, []string{
			"noop/c=10/busywork", "noop/c=10/gocdk", "noop/c=100/busywork", "noop/c=100/gocdk",
			"ceiling/k=16/ceiling", "ceiling/k=128/ceiling",
			"crash/c=10/busywork!", "crash/c=10/gocdk!", "crash/c=100/busywork!", "crash/c=100/gocdk!",
			"idle/c=10/busywork", "idle/c=10/gocdk",
		}},
	}
	for _, tt := range tests {
		steps := plan(tt.r, 3000, ks)
		if got := names(steps); !slices.Equal(got, tt.want) {
			t.Errorf("plan(%s) =\n%q\nwant\n%q", tt.r.label, got, tt.want)
		}
		for _, s := range steps {
			c := s.cfg
			wantC := concurrencyOf(s.scenario)
			if c.Consumer != s.consumer || c.Concurrency != wantC || c.Stream != s.crash {
				t.Errorf("plan(%s) %s/%s: Consumer %q, Concurrency %d, Stream %v; want %q, %d, %v",
					tt.r.label, s.scenario, s.consumer, c.Consumer, c.Concurrency, c.Stream, s.consumer, wantC, s.crash)
			}
			if strings.HasPrefix(s.scenario, "noop/") || strings.HasPrefix(s.scenario, "ceiling/") {
				if c.Jobs != 3000 || c.Work != 0 || c.Idle {
					t.Errorf("plan(%s) %s/%s: %d jobs of %s (idle %v), want 3000 no-op jobs", tt.r.label, s.scenario, s.consumer, c.Jobs, c.Work, c.Idle)
				}
			}
		}
	}
}

// drained returns the figures of a drain at rate jobs/s with the other
// figures given.
func drained(rate, reqPerJob float64, cpu time.Duration, rss float64) figures {
	return figures{jobsPerSec: rate, requestsPerJob: reqPerJob, cpuPerJob: cpu, peakRSS: rss, parentPerRequest: 30 * time.Microsecond}
}

// sampleResults are a run in which busywork meets every goal at 20 ms
// concurrency 10, misses each at 20 ms concurrency 100 (the Go CDK is
// better in all four, or equal), and did not run at 10 ms.
func sampleResults() *results {
	res := newResults()
	res.rtts = []string{loopback, rtt20}
	us := time.Microsecond
	res.figs[cell{loopback, noop10, busywork}] = drained(12_500, 0.2, 60*us, 24)
	res.figs[cell{loopback, noop10, gocdk}] = drained(10_000, 0.4, 100*us, 60)
	res.figs[cell{loopback, noop100, busywork}] = drained(20_000, 0.2, 50*us, 28)
	res.figs[cell{rtt20, noop10, busywork}] = drained(10_000, 0.3, 80*us, 30)
	res.figs[cell{rtt20, noop10, gocdk}] = drained(8_000, 0.4, 100*us, 60)
	res.figs[cell{rtt20, noop100, busywork}] = drained(4_000, 0.4, 100*us, 60)
	res.figs[cell{rtt20, noop100, gocdk}] = drained(8_000, 0.4, 100*us, 60)
	res.figs[cell{rtt20, ceilingScenario(16), ceiling}] = drained(5_000, 0.2, 40*us, 20)
	res.figs[cell{rtt20, ceilingScenario(128), ceiling}] = drained(16_000, 0.21, 50*us, 30)
	res.crashes[cell{rtt20, "crash/c=10", busywork}] = crashFigures{finished: 1010, reruns: 17}
	res.crashes[cell{rtt20, "crash/c=100", gocdk}] = crashFigures{finished: 1020, reruns: 412}
	res.proxies[rtt20] = rtt.Stats{Conns: 80, Chunks: 1000, Late: 500 * time.Millisecond, MaxLate: 3 * time.Millisecond}
	return res
}

func TestRTTGoals_ComparesBusyworkWithTheGoCDKInTheSameRun(t *testing.T) {
	got := make(map[string]goal)
	for _, g := range rttGoals(sampleResults()) {
		got[g.what] = g
	}
	want := []goal{
		{"20ms c=10 jobs/s busywork/gocdk", "x1.25", "goal >= x1.25", "met"},
		{"20ms c=10 requests/job busywork/gocdk", "x0.75", "goal <= x0.75", "met"},
		{"20ms c=10 CPU/job busywork/gocdk", "x0.80", "goal < x1.00", "met"},
		{"20ms c=10 peak RSS busywork/gocdk", "x0.50", "goal < x1.00", "met"},
		{"20ms c=100 jobs/s busywork/gocdk", "x0.50", "goal >= x1.25", "MISSED"},
		{"20ms c=100 requests/job busywork/gocdk", "x1.00", "goal <= x0.75", "MISSED"},
		{"20ms c=100 CPU/job busywork/gocdk", "x1.00", "goal < x1.00", "MISSED"},
		{"20ms c=100 peak RSS busywork/gocdk", "x1.00", "goal < x1.00", "MISSED"},
		{"10ms c=10 jobs/s busywork/gocdk", "-", "goal >= x1.25", "not run"},
		{"20ms c=10 jobs/s busywork 20ms/loopback", "x0.80", "goal >= x0.80", "met"},
		{"20ms c=100 jobs/s busywork 20ms/loopback", "x0.20", "goal >= x0.80", "MISSED"},
		{"loopback c=10 jobs/s busywork/gocdk", "x1.25", "goal >= x1.25", "met"},
	}
	for _, w := range want {
		if g, ok := got[w.what]; !ok || g != w {
			t.Errorf("goal %q = %+v, want %+v", w.what, g, w)
		}
	}
	if n := len(got); n != 19 {
		t.Errorf("%d goals, want 19 (4 ratios × 2 round trips × 2 concurrencies, 2 against the loopback, 1 on it)", n)
	}
}

func TestIssue15Goals_JudgeTheLoopbackDrains(t *testing.T) {
	res := sampleResults()
	res.figs[cell{rtt20, noop10, busywork}] = figures{jobsPerSec: 1, stalled: true}
	got := issue15Goals(res)
	want := []goal{
		{"jobs/s busywork/gocdk, c=10", "x1.25", "goal >= x1.40", "MISSED"},
		{"SQS requests per job, c=10", "0.2000", "goal <= 0.205", "met"},
		{"CPU per job busywork/gocdk, c=10", "x0.60", "goal <= x0.50", "MISSED"},
		{"peak RSS, c=10", "24.0 MB", "goal < 25 MB", "met"},
		{"stalls in busywork's drains", "20ms/noop/c=10", "goal none", "MISSED"},
		{"idle start latency p99", "-", "goal < 50 ms", "not run"},
		{"slot efficiency, 100 ms jobs, c=10", "-", "goal >= 0.90", "not run"},
	}
	if !slices.Equal(got, want) {
		t.Errorf("issue15Goals =\n%+v\nwant\n%+v", got, want)
	}
}

func TestPrintSummary_OneRowPerConsumerWithItsRerunsAndTheCeilingsShares(t *testing.T) {
	var sb strings.Builder
	printSummary(&sb, "head", sampleResults())
	out := sb.String()
	rows := make(map[string][]string) // by rtt/scenario/consumer
	for line := range strings.Lines(out) {
		if f := strings.Fields(line); len(f) == 14 {
			rows[f[0]+"/"+f[1]+"/"+f[2]] = f
		}
	}
	tests := []struct {
		row        string
		jobs, rrun string
	}{
		{"loopback/noop/c=10/busywork", "12500", "-"},
		{"20ms/noop/c=10/busywork", "10000", "17"},
		{"20ms/noop/c=100/gocdk", "8000", "412"},
		{"20ms/ceiling/k=128/ceiling", "16000", "-"},
	}
	for _, tt := range tests {
		f, ok := rows[tt.row]
		if !ok {
			t.Errorf("no row %s in\n%s", tt.row, out)
			continue
		}
		if f[3] != tt.jobs || f[7] != tt.rrun {
			t.Errorf("row %s: jobs/s %s, reruns %s; want %s, %s", tt.row, f[3], f[7], tt.jobs, tt.rrun)
		}
	}
	if len(rows) != 10 { // the header and 9 rows
		t.Errorf("%d table lines, want 10:\n%s", len(rows), out)
	}
	for _, want := range []string{
		"20ms: 16000 jobs/s (k=128, 0.2100 req/job, 50.0 cpu-us/job); busywork c=10 62%; busywork c=100 25%; gocdk c=10 50%; gocdk c=100 50%",
		"proxy at 20ms: 80 connections, 1000 chunks held 500µs past the round trip on average, at most 3ms",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
}
