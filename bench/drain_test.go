//go:build linux

package bench_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/busywork/busywork/bench/internal/drain"
	"github.com/busywork/busywork/bench/internal/rtt"
	"github.com/busywork/busywork/internal/testenv"
	"github.com/busywork/busywork/jobs"
	"github.com/busywork/busywork/producer"
)

// envJobs is the environment variable that sets the jobs of each no-op
// drain when -drain.jobs is not given (make bench BENCH_JOBS=n sets it).
const envJobs = "BUSYWORK_BENCH_JOBS"

// Knobs of BenchmarkDrain (go test ... -args -drain.jobs=5000).
var (
	drainJobs   = flag.Int("drain.jobs", 0, "BenchmarkDrain: jobs of each no-op drain (0: $"+envJobs+", else 50,000)")
	slowJobs    = flag.Int("drain.slow-jobs", 1000, "BenchmarkDrain: jobs of the 100 ms drains")
	idleJobs    = flag.Int("drain.idle-jobs", 200, "BenchmarkDrain: jobs sent one at a time to an idle consumer")
	idleGap     = flag.Duration("drain.idle-gap", 20*time.Millisecond, "BenchmarkDrain: time between the idle jobs' sends")
	crashJobs   = flag.Int("drain.crash-jobs", 6000, "BenchmarkDrain: jobs of each SIGKILL run (killed once a third are finished)")
	rttList     = flag.String("drain.rtts", "loopback,10ms,20ms", "BenchmarkDrain: round trips to drain at: loopback (no proxy) or a duration held by the proxy")
	ceilingList = flag.String("drain.ceiling", "16,64,128", "BenchmarkDrain: goroutines of the ideal client (the emulator's ceiling), one drain each")
)

// Scenario names, the second part of each sub-benchmark's name (after the
// round trip) and the rows of the summary.
const (
	noop10  = "noop/c=10"
	noop100 = "noop/c=100"
	slow10  = "100ms/c=10"
	idle10  = "idle/c=10"
)

// Round trips by label (the first part of each sub-benchmark's name).
const (
	loopback = "loopback" // no proxy: fauxqs answers in about 0.1 ms
	rtt10    = "10ms"
	rtt20    = "20ms"
)

// Consumers by name: the children, each the test binary of the package of
// that name.
const (
	busywork = "busywork"
	gocdk    = "gocdk"
	naive    = "naive"
	ceiling  = "ceiling" // not a consumer: the ideal client
)

// childNames are the packages whose test binaries are the children.
var childNames = []string{busywork, gocdk, naive, ceiling}

// BenchmarkDrain compares busywork's consumer with the Go CDK's pubsub
// consumer (gocdk), a naive one, and the best a client can do (ceiling),
// on one fauxqs emulator in one run, at the same concurrency (busywork's
// Concurrency, the Go CDK loop's semaphore, the naive consumer's
// goroutines), both on the loopback and through a proxy that adds SQS's
// round trip. Its sub-benchmarks are rtt=RTT/scenario/consumer:
//
//	rtt=loopback   the children talk to fauxqs directly: about 0.1 ms a call
//	rtt=10ms       through an rtt.Proxy in this process holding every
//	rtt=20ms       request 10 or 20 ms before fauxqs sees it (AWS plans on
//	               about 20 ms per SQS call in-region)
//
//	noop/c=10      drain 50,000 no-op jobs with concurrency 10 (busywork,
//	               gocdk; naive on the loopback only)
//	noop/c=100     the same with concurrency 100
//	ceiling/k=K    the same with the ideal client's K goroutines (16, 64
//	               and 128): what fauxqs serves through the same proxy
//	crash/c=10     SIGKILL the consumer once a third of 6,000 jobs are
//	crash/c=100    finished; count the finished jobs delivered again
//	idle/c=10      200 jobs sent one at a time, 20 ms apart, to an idle
//	               consumer (loopback and 20 ms)
//	100ms/c=10     drain 1,000 jobs of 100 ms each with concurrency 10
//	               (loopback only)
//
// The naive consumer stays on the loopback: one message per receive and
// one delete per job take two round trips a job, 250 jobs/s at 20 ms with
// 10 goroutines, and say nothing new there.
//
// Each consumer runs in a child process of its own, so that its CPU time
// (the child's rusage) and peak memory are its own: the test binary of its
// package (busywork, gocdk, naive, ceiling), built first and run as
// TestHelperProcess, which links that consumer and no other (linking the
// Go CDK adds some 5 MB of resident memory at start). Through a proxy the
// child's AWS_ENDPOINT_URL_SQS is the proxy's URL, so that its SQS client
// (testenv's, as everywhere) sends every call through it; the parent fills
// and checks queues directly. The proxy runs in this process, never in the
// child: its CPU is the parent's, reported apart (proxy-us/req).
//
// For each drain the parent fills a fresh queue (visibility timeout 60 s)
// with the jobs, ten per SendMessageBatch and several calls in parallel,
// then starts the child, which serves the queue until it has handled
// every job, stops its consumer and reports its own figures as JSON on
// stdout; the parent then checks that the queue is empty (every job was
// deleted, not only handled). An idle run instead sends one warm-up job,
// waits for the child to report it handled, then sends the jobs one
// SendMessage at a time, each carrying its send time. A crash run is
// described at benchCrash.
//
// Each sub-benchmark reports:
//
//	jobs/s        jobs handled per second, from the child's start of
//	              consuming (just before its consumer starts) to the end of
//	              the last job's handler; the consumer's stop is not in it
//	slot-eff      100ms: jobs/s over the ideal, concurrency / 100 ms
//	sqs-req/job   SQS HTTP requests of the child, retries included (counted
//	              in front of its HTTP client), per job
//	cpu-us/job    the child's user+system CPU (its rusage at exit, less what
//	              it had used when consuming started) per job; fauxqs's
//	              own CPU is not in it, nor the proxy's
//	peak-RSS-MB   the child's peak resident set (its VmHWM once its consumer
//	              stopped; see drain's peakRSS), in 10^6 bytes
//	start-RSS-MB  that peak when consuming started: the Go runtime, the
//	              test framework, the SDK client and what the consumer's
//	              packages set up when they load
//	proxy-us/req  this process's user+system CPU from the child's start to
//	              its exit, per SQS request of the child: the proxy's cost
//	              (on the loopback, what the parent costs without it); not
//	              in idle runs, where the parent also sends the jobs
//	max-gap-s     the longest time no job finished, to 0.1 s
//	stop-s        how long the consumer took to stop after the last job
//	p50-ms p99-ms idle: latency from send to the start of the job's handler
//	reruns        crash: finished jobs delivered again after the SIGKILL
//
// With b.N above 1 the runs are added up: rates over the total time,
// peaks and gaps the highest, latencies the worst run's. A drain stalled
// if no job finished for 5 s or more, or its rate was under half the
// median of its per-second rates. After its sub-benchmarks BenchmarkDrain
// prints a table of all figures, how late each proxy forwarded, the goals
// at SQS's round trip and those of engine v2 (issue 15) as ratios
// busywork/gocdk within this run, and the ceiling at each round trip with
// each consumer's share of it; compare ratios within one run, not figures
// across runs: these machines are noisy.
//
// The consumers: busywork as a worker runs it (see busywork.Consume;
// WaitTime 1 s), the Go CDK as its documentation shows (gocdk.Consume),
// the naive one as first SQS consumers are often written (naive.Consume),
// the ideal client as ceiling.Consume. All get the same SQS client
// (testenv's), so a fix of the HTTP stack there reaches all of them.
//
// The counts come from flags, for quick runs (-args -drain.jobs=5000, or
// BUSYWORK_BENCH_JOBS=5000 for the no-op drains); -drain.slow-jobs,
// -drain.idle-jobs, -drain.idle-gap and -drain.crash-jobs set the others,
// -drain.rtts the round trips (a duration of 0s runs the proxy without a
// delay: what the proxy itself costs a drain), -drain.ceiling the ideal
// client's goroutines. Run it once per sub-benchmark (-benchtime=1x): a
// drain takes seconds, and up to minutes for a consumer that keeps few
// calls in flight at 20 ms. -bench selects sub-benchmarks as usual, one
// pattern per level of the name ('Drain/rtt=20ms/noop/c=10/', not a slash
// inside a group). With this repository's emulators:
//
//	make bench
//
// or with emulators of your own, from the repository's root:
//
//	SQS_PORT=49324 DYNAMODB_PORT=48000 SES_PORT=48005 \
//	  localstack/with-emulators.sh .emulators/bench -- env BUSYWORK_INTEGRATION=1 \
//	  bash -c 'cd bench && go test -run "^$" -bench . -benchtime=1x -timeout 30m'
func BenchmarkDrain(b *testing.B) {
	testenv.Require(b)
	n := noopJobs(b)
	rtts, err := parseRTTs(*rttList)
	if err != nil {
		b.Fatal(err)
	}
	ks, err := parseCounts(*ceilingList)
	if err != nil {
		b.Fatalf("-drain.ceiling: %v", err)
	}
	children := buildChildren(b)
	res := newResults()
	for _, r := range rtts {
		benchAt(b, r, n, ks, children, res)
	}
	printSummary(os.Stdout, summaryHead(n), res)
}

// benchAt runs the sub-benchmarks at round trip r (see plan) with the
// children at their paths, through a proxy of its own unless r is direct,
// and adds their figures and the proxy's stats to res.
func benchAt(b *testing.B, r rttCase, n int, ks []int, children map[string]string, res *results) {
	res.rtts = append(res.rtts, r.label)
	var via *rtt.Proxy
	if !r.direct {
		p, err := rtt.Start(os.Getenv(testenv.EnvSQS), r.delay)
		if err != nil {
			b.Fatal(err)
		}
		defer p.Close()
		defer func() { res.proxies[r.label] = p.Stats() }()
		via = p
	}
	for _, st := range plan(r, n, ks) {
		b.Run("rtt="+r.label+"/"+st.scenario+"/"+st.consumer, func(b *testing.B) {
			c := cell{rtt: r.label, scenario: st.scenario, consumer: st.consumer}
			if st.crash {
				if f, ok := benchCrash(b, children[st.consumer], via, st.cfg); ok {
					res.crashes[c] = f
				}
				return
			}
			if f, ok := benchConsumer(b, children[st.consumer], via, st.cfg); ok {
				res.figs[c] = f
			}
		})
	}
}

// noopJobs returns the jobs of each no-op drain: -drain.jobs, else
// $BUSYWORK_BENCH_JOBS, else 50,000.
func noopJobs(b *testing.B) int {
	if *drainJobs > 0 {
		return *drainJobs
	}
	v := os.Getenv(envJobs)
	if v == "" {
		return 50_000
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		b.Fatalf("%s=%q: want a positive number of jobs", envJobs, v)
	}
	return n
}

// summaryHead is the first line of the summary.
func summaryHead(n int) string {
	return fmt.Sprintf("drain summary, one fauxqs, %s: no-op drains of %d jobs, SIGKILL runs of %d, %d jobs of 100 ms, %d idle jobs %s apart",
		time.Now().Format("2006-01-02 15.04"), n, *crashJobs, *slowJobs, *idleJobs, *idleGap)
}

// rttCase is one round trip the drains run at.
type rttCase struct {
	label  string        // loopback, or the delay as time.Duration prints it
	delay  time.Duration // what the proxy holds each request
	direct bool          // no proxy: the children talk to fauxqs directly
}

// parseRTTs reads -drain.rtts: a comma-separated list of loopback (no
// proxy) and durations (through the proxy, 0s included).
func parseRTTs(s string) ([]rttCase, error) {
	var rs []rttCase
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(f)
		if f == loopback {
			rs = append(rs, rttCase{label: loopback, direct: true})
			continue
		}
		d, err := time.ParseDuration(f)
		if err != nil || d < 0 {
			return nil, fmt.Errorf("-drain.rtts: %q: want %s or a duration", f, loopback)
		}
		rs = append(rs, rttCase{label: d.String(), delay: d})
	}
	return rs, nil
}

// parseCounts reads a comma-separated list of positive numbers.
func parseCounts(s string) ([]int, error) {
	var ns []int
	for f := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q: want positive numbers", f)
		}
		ns = append(ns, n)
	}
	return ns, nil
}

// step is one sub-benchmark: a consumer in a scenario at a round trip.
type step struct {
	scenario, consumer string
	cfg                drain.Config
	crash              bool // a SIGKILL run (benchCrash), not a drain
}

// plan returns the sub-benchmarks at round trip r, in the order they run:
// the no-op drains of n jobs (naive on the loopback only), the ideal
// client with each of ks goroutines, the SIGKILL runs, then the idle runs
// (on the loopback and at 20 ms) and the 100 ms drains (loopback only).
func plan(r rttCase, n int, ks []int) []step {
	consumers := []string{busywork, gocdk}
	if r.direct {
		consumers = append(consumers, naive)
	}
	var steps []step
	add := func(scenario string, cfg drain.Config, crash bool, names ...string) {
		for _, name := range names {
			cfg.Consumer = name
			steps = append(steps, step{scenario: scenario, consumer: name, cfg: cfg, crash: crash})
		}
	}
	add(noop10, drain.Config{Concurrency: 10, Jobs: n}, false, consumers...)
	add(noop100, drain.Config{Concurrency: 100, Jobs: n}, false, consumers...)
	for _, k := range ks {
		add(ceilingScenario(k), drain.Config{Concurrency: k, Jobs: n}, false, ceiling)
	}
	for _, sc := range []string{noop10, noop100} {
		c := drain.Config{Concurrency: concurrencyOf(sc), Jobs: *crashJobs, Stream: true}
		add(crashScenario(sc), c, true, busywork, gocdk)
	}
	if r.direct || r.label == rtt20 {
		add(idle10, drain.Config{Concurrency: 10, Jobs: *idleJobs, Idle: true}, false, consumers...)
	}
	if r.direct {
		add(slow10, drain.Config{Concurrency: 10, Jobs: *slowJobs, Work: 100 * time.Millisecond}, false, consumers...)
	}
	return steps
}

// ceilingScenario names the ideal client's drain with k goroutines.
func ceilingScenario(k int) string { return "ceiling/k=" + strconv.Itoa(k) }

// crashScenario names the SIGKILL runs at the concurrency of noop, a
// no-op scenario ("noop/c=10" gives "crash/c=10").
func crashScenario(noop string) string { return "crash/" + strings.TrimPrefix(noop, "noop/") }

// concurrencyOf returns the concurrency in a scenario's name ("c=N" or
// "k=N" after the last slash), or 0.
func concurrencyOf(scenario string) int {
	_, v, _ := strings.Cut(scenario[strings.LastIndex(scenario, "/")+1:], "=")
	n, _ := strconv.Atoi(v)
	return n
}

// benchConsumer runs b.N children (the test binary child) with cfg, each
// on a freshly filled queue, through via (nil: directly), and reports
// their figures; ok is false when b failed.
func benchConsumer(b *testing.B, child string, via *rtt.Proxy, cfg drain.Config) (f figures, ok bool) {
	b.ReportMetric(0, "ns/op") // the time of a fill and a drain says nothing
	filler := testenv.SQS(b)
	cfg.GiveUp = 10 * time.Minute
	var runs []run
	for range b.N {
		url, _ := testenv.NewQueue(b, filler, testenv.QueueOptions{VisibilityTimeout: 60})
		cfg.QueueURL = url
		p := producer.New(filler, url, producer.WithTimeout(time.Minute))
		var onLine func(drain.Line, func()) error
		if cfg.Idle {
			if _, err := p.Send(context.Background(), jobs.Ping{Message: drain.WarmUp}); err != nil {
				b.Fatalf("send the warm-up job: %v", err)
			}
			onLine = func(l drain.Line, _ func()) error {
				if !l.Ready {
					return nil
				}
				return sendSpaced(p, cfg.Jobs, *idleGap)
			}
		} else {
			fillQueue(b, p, cfg.Jobs)
		}
		r := runChild(b, child, via, cfg, onLine)
		if r.rep == nil {
			b.Fatalf("%s: the child was killed", cfg.Consumer)
		}
		requireEmpty(b, filler, url)
		b.Logf("%s: %d jobs handled in %s, stopped %s later; SQS requests %v; %d duplicates; max gap %s; start RSS %.1f MB; parent CPU %s%s",
			cfg.Consumer, cfg.Jobs, r.rep.Handled.Round(time.Millisecond), (r.rep.Stopped - r.rep.Handled).Round(time.Millisecond),
			r.rep.Requests, r.rep.Duplicates, r.rep.MaxGap, float64(r.rep.StartRSS)/1e6, r.parentCPU.Round(time.Millisecond), r.proxied())
		if r.rep.Problems > 0 {
			b.Logf("%s: %d problems; the first:\n%s", cfg.Consumer, r.rep.Problems, strings.Join(r.rep.FirstProblems, "\n"))
		}
		runs = append(runs, r)
	}
	f = combine(cfg, runs)
	b.ReportMetric(f.jobsPerSec, "jobs/s")
	if f.slotEfficiency > 0 {
		b.ReportMetric(f.slotEfficiency, "slot-eff")
	}
	b.ReportMetric(f.requestsPerJob, "sqs-req/job")
	b.ReportMetric(us(f.cpuPerJob), "cpu-us/job")
	b.ReportMetric(f.peakRSS, "peak-RSS-MB")
	b.ReportMetric(f.startRSS, "start-RSS-MB")
	if f.parentPerRequest > 0 {
		b.ReportMetric(us(f.parentPerRequest), "proxy-us/req")
	}
	b.ReportMetric(f.maxGap.Seconds(), "max-gap-s")
	b.ReportMetric(f.stopTail.Seconds(), "stop-s")
	if cfg.Idle {
		b.ReportMetric(float64(f.p50)/float64(time.Millisecond), "p50-ms")
		b.ReportMetric(float64(f.p99)/float64(time.Millisecond), "p99-ms")
	}
	if f.stalled {
		b.Logf("%s stalled: a gap of %s with no job finished, or a rate under half the median", cfg.Consumer, f.maxGap)
	}
	return f, !b.Failed()
}

// us returns d in microseconds.
func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// stallGap is the gap with no job finished that makes a drain a stall.
const stallGap = 5 * time.Second

// combine adds up the runs of one consumer in one scenario.
func combine(cfg drain.Config, runs []run) figures {
	var (
		f                             figures
		handled, cpu, stopped, parent time.Duration
		requests                      int64
	)
	for _, r := range runs {
		handled += r.rep.Handled
		stopped += r.rep.Stopped - r.rep.Handled
		cpu += r.childCPU - r.rep.StartCPU
		parent += r.parentCPU
		for _, k := range r.rep.Requests {
			requests += k
		}
		f.peakRSS = max(f.peakRSS, float64(r.rep.PeakRSS)/1e6)
		f.startRSS = max(f.startRSS, float64(r.rep.StartRSS)/1e6)
		f.maxGap = max(f.maxGap, r.rep.MaxGap)
		f.p50, f.p99 = max(f.p50, r.rep.P50), max(f.p99, r.rep.P99)
		rate := float64(cfg.Jobs) / r.rep.Handled.Seconds()
		if r.rep.MaxGap >= stallGap || (r.rep.MedianRate > 0 && rate < r.rep.MedianRate/2) {
			f.stalled = true
		}
	}
	total := float64(cfg.Jobs * len(runs))
	f.jobsPerSec = total / handled.Seconds()
	if cfg.Work > 0 {
		f.slotEfficiency = f.jobsPerSec / (float64(cfg.Concurrency) / cfg.Work.Seconds())
	}
	f.requestsPerJob = float64(requests) / total
	f.cpuPerJob = time.Duration(float64(cpu) / total)
	if requests > 0 && !cfg.Idle {
		f.parentPerRequest = time.Duration(float64(parent) / float64(requests))
	}
	f.stopTail = stopped / time.Duration(len(runs))
	return f
}

// figures are one consumer's results in one scenario.
type figures struct {
	jobsPerSec       float64
	slotEfficiency   float64 // 0 unless the jobs take time
	requestsPerJob   float64
	cpuPerJob        time.Duration
	parentPerRequest time.Duration // this process's CPU per request of the child; 0 in idle runs
	peakRSS          float64       // MB
	startRSS         float64       // MB
	maxGap           time.Duration
	stopTail         time.Duration
	stalled          bool
	p50, p99         time.Duration // idle runs only
}
