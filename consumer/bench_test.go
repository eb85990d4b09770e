//go:build unix

package consumer_test

import (
	"context"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/busywork/busywork/consumer"
	"github.com/busywork/busywork/internal/testenv"
	"github.com/busywork/busywork/jobs"
	"github.com/busywork/busywork/producer"
)

// Knobs of BenchmarkDrain, for tuning runs (go test ... -args -drain.concurrency=200).
var (
	drainJobs        = flag.Int("drain.jobs", 50_000, "BenchmarkDrain: jobs each iteration drains")
	drainConcurrency = flag.Int("drain.concurrency", 200, "BenchmarkDrain: busywork's Concurrency")
	drainPollers     = flag.Int("drain.pollers", 0, "BenchmarkDrain: busywork's Pollers (0: the default, one per 10 slots)")
	drainNaive       = flag.Int("drain.naive", 100, "BenchmarkDrain: goroutines of the naive consumer")
)

// BenchmarkDrain drains 50,000 no-op ping jobs from a fauxqs queue with the
// busywork consumer and, in the same run, with a naive consumer (workers
// goroutines each looping ReceiveMessage of one message with a 1 s wait,
// handle, DeleteMessage of that one; see naiveDrain). Each sub-benchmark
// reports:
//
//	jobs/s            jobs drained per second of wall time, from the
//	                  consumer's start until it has stopped
//	jobs/s-before-stop  the same up to the last job's handling, without
//	                  the shutdown (see below)
//	sqs-requests/job  SQS HTTP requests per job, retries included (counted by
//	                  consumer.Metrics.InstrumentSQS on the draining client;
//	                  the requests that filled the queue are not counted)
//	cpu-ms/1k-jobs    user+system CPU of this Go process (getrusage), per
//	                  1,000 jobs; fauxqs's own CPU is not included
//	peak-MB           the peak, sampled every 2 ms, of the Go runtime's memory
//	                  (/memory/classes/total:bytes less heap/released:bytes)
//	                  above its level just before the drain, in 10^6 bytes
//
// and the naive sub-benchmark's log ends with the busywork/naive ratios of
// those figures (busywork's averaged over its runs, with -count).
//
// Each iteration (b.N) fills a fresh queue (testenv.NewQueue) with 50,000
// jobs through producer.SendBatch, in parallel and with the timer stopped,
// then drains the whole queue with the timer running: from the start of
// the consumer until every job was handled, the consumer was stopped (its
// context cancelled) and has returned with every delete confirmed. Both
// consumers let a receive in flight at shutdown finish (at most their 1 s
// wait), so each figure includes up to a second of shutdown; the log line
// of each drain says how long that tail took. A drain takes seconds, so run
// it with -benchtime=1x (the default 1s benchtime also runs one iteration).
//
// The busywork consumer serves one queue with Concurrency 200 and the
// default Pollers (one per 10 slots: 20), a no-op handler, its per-job log
// line written as JSON to io.Discard, metrics on, and DrainTimeout 2 s
// (WaitTime 1 s). A job holds its slot until its delete is confirmed, so
// the slots needed grow with throughput times the receive and delete round
// trips: on two cores shared with fauxqs, 200 drained fastest on a quiet
// machine (13,000 to 14,000 jobs/s against 10,000 to 12,000 with 100, and
// 50 no better than 100) with the least CPU per job; 10 pollers instead of
// 20 made no measurable difference. The naive consumer has 100 goroutines, within
// the 100 idle connections per host that testenv's HTTP client keeps
// (the SDK's default of 10 would make both consumers dial and close
// connections). The flags -drain.jobs, -drain.concurrency, -drain.pollers
// and -drain.naive change these.
//
// Each drain's log line gives its SQS requests by operation and the
// shutdown tail; it also reports jobs delivered more than once, warnings
// and errors the consumer logged, and HTTP requests that failed below the
// SDK, none of which a clean drain has.
//
// With this repository's emulators (make bench's ports and folder):
//
//	make bench BENCH_FLAGS='-run ^$$ -bench BenchmarkDrain -benchtime=1x -count=3'
//
// (make bench appends ./..., so only this benchmark runs, in this package),
// or with emulators of your own:
//
//	SQS_PORT=49324 DYNAMODB_PORT=48000 SES_PORT=48005 \
//	  localstack/with-emulators.sh .emulators/bench -- env BUSYWORK_INTEGRATION=1 \
//	  go test -run '^$' -bench BenchmarkDrain -benchtime=1x -count=3 ./consumer/
func BenchmarkDrain(b *testing.B) {
	testenv.Require(b)
	n := int64(*drainJobs)
	// With -count, the busywork runs all come before the naive ones; the
	// ratios use the mean of the busywork runs.
	var busywork drainFigures
	var busyworkRuns float64
	b.Run("busywork", func(b *testing.B) {
		f := benchDrain(b, n, func(b *testing.B, client *sqs.Client, m *consumer.Metrics, url string) time.Time {
			return busyworkDrain(b, client, m, url, n)
		})
		if f.jobsPerSec > 0 {
			busywork = busywork.add(f)
			busyworkRuns++
		}
	})
	b.Run("naive", func(b *testing.B) {
		naive := benchDrain(b, n, func(b *testing.B, client *sqs.Client, _ *consumer.Metrics, url string) time.Time {
			return naiveDrain(b, client, url, n, *drainNaive)
		})
		// Logged here: a benchmark's log shows only without sub-benchmarks
		// (or with -v).
		if busyworkRuns > 0 && naive.jobsPerSec > 0 {
			busywork := busywork.scale(1 / busyworkRuns)
			b.Logf("busywork/naive: jobs/s x%.2f (before stop x%.2f), sqs-requests/job x%.3f, cpu per job x%.2f, peak-MB x%.2f",
				busywork.jobsPerSec/naive.jobsPerSec, busywork.handledPerSec/naive.handledPerSec, busywork.requestsPerJob/naive.requestsPerJob,
				busywork.cpuMsPer1k/naive.cpuMsPer1k, busywork.peakMB/naive.peakMB)
		}
	})
}

// drainFigures are what one sub-benchmark of BenchmarkDrain reports.
type drainFigures struct {
	jobsPerSec, handledPerSec, requestsPerJob, cpuMsPer1k, peakMB float64
}

func (f drainFigures) add(g drainFigures) drainFigures {
	return drainFigures{f.jobsPerSec + g.jobsPerSec, f.handledPerSec + g.handledPerSec,
		f.requestsPerJob + g.requestsPerJob, f.cpuMsPer1k + g.cpuMsPer1k, f.peakMB + g.peakMB}
}

func (f drainFigures) scale(k float64) drainFigures {
	return drainFigures{f.jobsPerSec * k, f.handledPerSec * k, f.requestsPerJob * k, f.cpuMsPer1k * k, f.peakMB * k}
}

// drainFunc drains n jobs from url through client and returns once they
// are all handled and deleted and the consumer has stopped, with the time
// the last job was handled.
type drainFunc func(b *testing.B, client *sqs.Client, m *consumer.Metrics, url string) (lastHandled time.Time)

// benchDrain runs b.N drains of n jobs, each from a freshly filled queue,
// and reports their figures.
func benchDrain(b *testing.B, n int64, drain drainFunc) drainFigures {
	b.StopTimer()
	filler := testenv.SQS(b)
	var (
		elapsed, cpu time.Duration
		toLast       time.Duration // from the start to the last job handled
		requests     float64
		peak         uint64
	)
	for i := range b.N {
		// A private registry per iteration: its request counter starts at 0.
		reg := prometheus.NewRegistry()
		m := consumer.NewMetrics(reg)
		var failures httpFailures
		client := testenv.SQS(b, m.InstrumentSQS, failures.wrap)
		url, _ := testenv.NewQueue(b, filler, testenv.QueueOptions{VisibilityTimeout: 60})
		fillQueue(b, filler, url, n)

		// Give the fill's garbage back to the OS, so that the drain's peak
		// counts what the drain itself needs, not reused free heap.
		debug.FreeOSMemory()
		base := memInUse()
		stopSampling, peakOf := sampleMemory(base)
		cpu0 := processCPU()
		b.StartTimer()
		start := time.Now()
		var last time.Time
		// The label lets a CPU profile single out the drain from the fill:
		// go tool pprof -tagfocus phase=drain.
		pprof.Do(context.Background(), pprof.Labels("phase", "drain"), func(context.Context) {
			last = drain(b, client, m, url)
		})
		took := time.Since(start)
		b.StopTimer()
		cpu += processCPU() - cpu0
		stopSampling()
		peak = max(peak, peakOf())
		elapsed += took
		toLast += last.Sub(start)

		byOp := sqsRequests(b, reg)
		requests += byOp["total"]
		b.Logf("drain %d: %d jobs in %s (shutdown tail %s); SQS requests %v; peak %.1f MB",
			i+1, n, took.Round(time.Millisecond), took-last.Sub(start), byOp, float64(peakOf())/1e6)
		failures.report(b)
		requireEmpty(b, filler, url)
	}
	jobs := float64(n) * float64(b.N)
	f := drainFigures{
		jobsPerSec:     jobs / elapsed.Seconds(),
		handledPerSec:  jobs / toLast.Seconds(),
		requestsPerJob: requests / jobs,
		cpuMsPer1k:     float64(cpu.Milliseconds()) / jobs * 1000,
		peakMB:         float64(peak) / 1e6,
	}
	b.ReportMetric(f.jobsPerSec, "jobs/s")
	b.ReportMetric(f.handledPerSec, "jobs/s-before-stop")
	b.ReportMetric(f.requestsPerJob, "sqs-requests/job")
	b.ReportMetric(f.cpuMsPer1k, "cpu-ms/1k-jobs")
	b.ReportMetric(f.peakMB, "peak-MB")
	if b.Failed() {
		return drainFigures{}
	}
	return f
}

// busyworkDrain serves url with a busywork consumer until n jobs are
// handled, then stops it and waits for Run to return.
func busyworkDrain(b *testing.B, client *sqs.Client, m *consumer.Metrics, url string, n int64) time.Time {
	var handled, again atomic.Int64
	allDone := make(chan struct{})
	mux := consumer.NewMux()
	consumer.Handle(mux, func(ctx context.Context, _ jobs.Ping) error {
		if d, _ := consumer.DeliveryFromContext(ctx); d.ReceiveCount > 1 {
			again.Add(1)
		}
		if handled.Add(1) == n {
			close(allDone)
		}
		return nil
	})
	problems := newWarnings(slog.NewJSONHandler(io.Discard, nil))
	c, err := consumer.New(client, mux, consumer.Config{
		Queues:       []consumer.QueueConfig{{URL: url, Concurrency: *drainConcurrency, Pollers: *drainPollers}},
		DrainTimeout: 2 * time.Second,
		WaitTime:     time.Second,
		Logger:       slog.New(problems),
		Metrics:      m,
	})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ran := make(chan error, 1)
	go func() { ran <- c.Run(ctx) }()
	last := awaitHandled(b, allDone, &handled, n)
	cancel()
	if err := <-ran; err != nil {
		b.Errorf("Run: %v", err)
	}
	if k := again.Load(); k > 0 {
		// Seen on fauxqs under load: it resets a connection while sending a
		// receive's response, the SDK retries the receive (logging "failed
		// to discard remaining HTTP response body"), and the lost response's
		// messages wait out the visibility timeout.
		b.Logf("%d jobs were delivered more than once: a receive's response was lost and its messages waited out the 60 s visibility timeout", k)
	}
	problems.report(b)
	return last
}

// warnings is a slog.Handler that passes every record on to next and keeps
// count of those of level Warn and above, and the text of the first few,
// for report. Handlers made by WithAttrs and WithGroup share the count.
type warnings struct {
	next slog.Handler
	seen *warningsSeen
}

type warningsSeen struct {
	mu    sync.Mutex
	n     int
	first []string
}

func newWarnings(next slog.Handler) *warnings {
	return &warnings{next: next, seen: &warningsSeen{}}
}

func (w *warnings) Enabled(ctx context.Context, l slog.Level) bool { return w.next.Enabled(ctx, l) }

func (w *warnings) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn {
		var sb strings.Builder
		sb.WriteString(r.Level.String() + " " + r.Message)
		r.Attrs(func(a slog.Attr) bool {
			sb.WriteString(" " + a.String())
			return true
		})
		w.seen.mu.Lock()
		if w.seen.n++; len(w.seen.first) < 10 {
			w.seen.first = append(w.seen.first, sb.String())
		}
		w.seen.mu.Unlock()
	}
	return w.next.Handle(ctx, r)
}

func (w *warnings) WithAttrs(as []slog.Attr) slog.Handler {
	return &warnings{next: w.next.WithAttrs(as), seen: w.seen}
}

func (w *warnings) WithGroup(name string) slog.Handler {
	return &warnings{next: w.next.WithGroup(name), seen: w.seen}
}

// report logs how many warnings and errors were logged, and the first.
func (w *warnings) report(b *testing.B) {
	w.seen.mu.Lock()
	defer w.seen.mu.Unlock()
	if w.seen.n > 0 {
		b.Logf("the consumer logged %d warnings or errors; the first:\n%s", w.seen.n, strings.Join(w.seen.first, "\n"))
	}
}

// awaitHandled waits until allDone is closed and returns when that was. It
// gives up, failing b, when b fails or after ten minutes.
func awaitHandled(b *testing.B, allDone <-chan struct{}, handled *atomic.Int64, n int64) time.Time {
	give := time.After(10 * time.Minute)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-allDone:
			return time.Now()
		case <-tick.C:
			if b.Failed() {
				return time.Now()
			}
		case <-give:
			b.Errorf("only %d of %d jobs handled after ten minutes", handled.Load(), n)
			return time.Now()
		}
	}
}

// fillQueue sends n ping jobs to url with producer.SendBatch, several calls
// at once.
func fillQueue(b *testing.B, client *sqs.Client, url string, n int64) {
	const perCall = 1000
	p := producer.New(client, url, producer.WithTimeout(time.Minute))
	var g errgroup.Group
	g.SetLimit(4) // each SendBatch has up to 8 calls in flight
	for lo := int64(0); lo < n; lo += perCall {
		g.Go(func() error {
			js := make([]jobs.Job, min(perCall, n-lo))
			for i := range js {
				js[i] = jobs.Ping{Message: strconv.FormatInt(lo+int64(i), 10)}
			}
			_, err := p.SendBatch(context.Background(), js)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		b.Fatalf("fill the queue: %v", err)
	}
}

// httpFailures counts the SQS HTTP requests that failed below the SDK (a
// connection reset, a timeout): the SDK retries some of them silently, and
// a retried receive may have taken messages that then stay invisible for
// the queue's visibility timeout.
type httpFailures struct {
	mu    sync.Mutex
	n     int
	first []string
}

type doFunc func(*http.Request) (*http.Response, error)

func (f doFunc) Do(r *http.Request) (*http.Response, error) { return f(r) }

// wrap is an sqs.Options func that makes the client's HTTP calls count.
func (h *httpFailures) wrap(o *sqs.Options) {
	next := o.HTTPClient
	o.HTTPClient = doFunc(func(r *http.Request) (*http.Response, error) {
		resp, err := next.Do(r)
		if err != nil {
			h.mu.Lock()
			if h.n++; len(h.first) < 5 {
				h.first = append(h.first, time.Now().Format("15:04:05.000")+" "+r.Header.Get("X-Amz-Target")+": "+err.Error())
			}
			h.mu.Unlock()
		}
		return resp, err
	})
}

func (h *httpFailures) report(b *testing.B) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.n > 0 {
		b.Logf("%d SQS HTTP requests failed; the first:\n%s", h.n, strings.Join(h.first, "\n"))
	}
}

// requireEmpty fails b unless url has no message left, visible or not:
// every job was deleted, not just received.
func requireEmpty(b *testing.B, client *sqs.Client, url string) {
	out, err := client.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(url),
		AttributeNames: []types.QueueAttributeName{
			types.QueueAttributeNameApproximateNumberOfMessages,
			types.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
		},
	})
	if err != nil {
		b.Fatal(err)
	}
	for name, v := range out.Attributes {
		if v != "0" {
			b.Errorf("after the drain %s = %s, want 0", name, v)
		}
	}
}

// sqsRequests returns busywork_sqs_requests_total from reg by operation,
// and their sum as "total".
func sqsRequests(b *testing.B, reg *prometheus.Registry) map[string]float64 {
	families, err := reg.Gather()
	if err != nil {
		b.Fatal(err)
	}
	out := map[string]float64{"total": 0}
	for _, f := range families {
		if f.GetName() != "busywork_sqs_requests_total" {
			continue
		}
		for _, s := range f.GetMetric() {
			for _, l := range s.GetLabel() {
				if l.GetName() == "operation" {
					out[l.GetValue()] += s.GetCounter().GetValue()
				}
			}
			out["total"] += s.GetCounter().GetValue()
		}
	}
	return out
}

// processCPU returns the user and system CPU time this process has used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

var memSamples = []metrics.Sample{
	{Name: "/memory/classes/total:bytes"},
	{Name: "/memory/classes/heap/released:bytes"},
}

// memInUse returns the memory the Go runtime holds from the OS and has not
// released back to it.
func memInUse() uint64 {
	s := make([]metrics.Sample, len(memSamples))
	copy(s, memSamples)
	metrics.Read(s)
	return s[0].Value.Uint64() - s[1].Value.Uint64()
}

// sampleMemory samples memInUse every 2 ms until stop is called; peak
// returns the highest sample above base.
func sampleMemory(base uint64) (stop func(), peak func() uint64) {
	var top atomic.Uint64
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			if v := memInUse(); v > base && v-base > top.Load() {
				top.Store(v - base)
			}
			select {
			case <-quit:
				return
			case <-t.C:
			}
		}
	}()
	return func() { close(quit); <-done }, top.Load
}
