//go:build linux

package bench_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"golang.org/x/sync/errgroup"

	"github.com/busywork/busywork/bench/internal/drain"
	"github.com/busywork/busywork/internal/testenv"
	"github.com/busywork/busywork/jobs"
	"github.com/busywork/busywork/producer"
)

// envJobs is the environment variable that sets the jobs of each no-op
// drain when -drain.jobs is not given (make bench BENCH_JOBS=n sets it).
const envJobs = "BUSYWORK_BENCH_JOBS"

// Knobs of BenchmarkDrain (go test ... -args -drain.jobs=5000).
var (
	drainJobs = flag.Int("drain.jobs", 0, "BenchmarkDrain: jobs of each no-op drain (0: $"+envJobs+", else 50,000)")
	slowJobs  = flag.Int("drain.slow-jobs", 1000, "BenchmarkDrain: jobs of the 100 ms drains")
	idleJobs  = flag.Int("drain.idle-jobs", 200, "BenchmarkDrain: jobs sent one at a time to an idle consumer")
	idleGap   = flag.Duration("drain.idle-gap", 20*time.Millisecond, "BenchmarkDrain: time between the idle jobs' sends")
)

// Scenario names, the first part of each sub-benchmark's name.
const (
	noop10  = "noop/c=10"
	noop100 = "noop/c=100"
	slow10  = "100ms/c=10"
	idle10  = "idle/c=10"
)

// consumerNames are the consumers compared, in the order they run.
var consumerNames = []string{"busywork", "gocdk", "naive"}

// BenchmarkDrain compares busywork's consumer with the Go CDK's pubsub
// consumer (gocdk) and a naive one, on one fauxqs emulator in one run, at
// the same concurrency: busywork's Concurrency, the Go CDK loop's
// semaphore, the naive consumer's goroutines. Its sub-benchmarks are
// scenario/consumer:
//
//	noop/c=10    drain 50,000 no-op jobs with concurrency 10
//	noop/c=100   the same with concurrency 100
//	100ms/c=10   drain 1,000 jobs of 100 ms each with concurrency 10
//	idle/c=10    200 jobs sent one at a time, 20 ms apart, to an idle consumer
//
// Each consumer runs in a child process of its own, so that its CPU time
// (the child's rusage) and peak memory are its own: the test binary of its
// package (busywork, gocdk, naive), built first and run as
// TestHelperProcess, which links that consumer and no other (linking the
// Go CDK adds some 5 MB of resident memory at start).
//
// For each drain the parent fills a fresh queue (visibility timeout 60 s)
// with the jobs, ten per SendMessageBatch and several calls in parallel,
// then starts the child, which serves the queue until it has handled
// every job, stops its consumer and reports its own figures as JSON on
// stdout; the parent then checks that the queue is empty (every job was
// deleted, not only handled). An idle run instead sends one warm-up job,
// waits for the child to report it handled, then sends the jobs one
// SendMessage at a time, each carrying its send time.
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
//	              own CPU is not in it
//	peak-RSS-MB   the child's peak resident set (its VmHWM once its consumer
//	              stopped; see drain's peakRSS), in 10^6 bytes
//	start-RSS-MB  that peak when consuming started: the Go runtime, the
//	              test framework, the SDK client and what the consumer's
//	              packages set up when they load
//	max-gap-s     the longest time no job finished, to 0.1 s
//	stop-s        how long the consumer took to stop after the last job
//	p50-ms p99-ms idle: latency from send to the start of the job's handler
//
// With b.N above 1 the runs are added up: rates over the total time,
// peaks and gaps the highest, latencies the worst run's. A drain stalled
// if no job finished for 5 s or more, or its rate was under half the
// median of its per-second rates. After its sub-benchmarks BenchmarkDrain
// prints a table of all figures and the goals of engine v2 (issue 15) as
// ratios busywork/gocdk within this run; compare ratios within one run,
// not figures across runs: these machines are noisy.
//
// The consumers: busywork as a worker runs it (see busywork.Consume;
// WaitTime 1 s), the Go CDK as its documentation shows (gocdk.Consume),
// the naive one as first SQS consumers are often written (naive.Consume).
// All three get the same SQS client (testenv's), so a fix of the HTTP
// stack there reaches all three.
//
// The counts come from flags, for quick runs (-args -drain.jobs=5000, or
// BUSYWORK_BENCH_JOBS=5000 for the no-op drains); -drain.slow-jobs,
// -drain.idle-jobs and -drain.idle-gap set the others. Run it once per
// sub-benchmark (-benchtime=1x): a drain takes seconds. With this
// repository's emulators:
//
//	make bench
//
// or with emulators of your own, from the repository's root:
//
//	SQS_PORT=49324 DYNAMODB_PORT=48000 SES_PORT=48005 \
//	  localstack/with-emulators.sh .emulators/bench -- env BUSYWORK_INTEGRATION=1 \
//	  bash -c 'cd bench && go test -run "^$" -bench . -benchtime=1x'
func BenchmarkDrain(b *testing.B) {
	testenv.Require(b)
	n := noopJobs(b)
	children := buildChildren(b)
	scenarios := []struct {
		name string
		cfg  drain.Config
	}{
		{noop10, drain.Config{Concurrency: 10, Jobs: n}},
		{noop100, drain.Config{Concurrency: 100, Jobs: n}},
		{slow10, drain.Config{Concurrency: 10, Jobs: *slowJobs, Work: 100 * time.Millisecond}},
		{idle10, drain.Config{Concurrency: 10, Jobs: *idleJobs, Idle: true}},
	}
	results := make(map[string]map[string]figures)
	for _, sc := range scenarios {
		results[sc.name] = make(map[string]figures)
		for _, name := range consumerNames {
			b.Run(sc.name+"/"+name, func(b *testing.B) {
				cfg := sc.cfg
				cfg.Consumer = name
				if f, ok := benchConsumer(b, children[name], cfg); ok {
					results[sc.name][name] = f
				}
			})
		}
	}
	printSummary(os.Stdout, summaryHead(n), results)
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
	return fmt.Sprintf("drain summary, one fauxqs, %s: no-op drains of %d jobs, %d jobs of 100 ms, %d idle jobs %s apart",
		time.Now().Format("2006-01-02 15.04"), n, *slowJobs, *idleJobs, *idleGap)
}

// figures are one consumer's results in one scenario.
type figures struct {
	jobsPerSec     float64
	slotEfficiency float64 // 0 unless the jobs take time
	requestsPerJob float64
	cpuPerJob      time.Duration
	peakRSS        float64 // MB
	startRSS       float64 // MB
	maxGap         time.Duration
	stopTail       time.Duration
	stalled        bool
	p50, p99       time.Duration // idle runs only
}

// run is one child's report with its rusage.
type run struct {
	rep drain.Report
	ru  *syscall.Rusage
}

// benchConsumer runs b.N children (the test binary child) with cfg, each
// on a freshly filled queue, and reports their figures; ok is false when b
// failed.
func benchConsumer(b *testing.B, child string, cfg drain.Config) (f figures, ok bool) {
	b.ReportMetric(0, "ns/op") // the time of a fill and a drain says nothing
	filler := testenv.SQS(b)
	cfg.GiveUp = 10 * time.Minute
	var runs []run
	for range b.N {
		url, _ := testenv.NewQueue(b, filler, testenv.QueueOptions{VisibilityTimeout: 60})
		cfg.QueueURL = url
		p := producer.New(filler, url, producer.WithTimeout(time.Minute))
		var onReady func() error
		if cfg.Idle {
			if _, err := p.Send(context.Background(), jobs.Ping{Message: drain.WarmUp}); err != nil {
				b.Fatalf("send the warm-up job: %v", err)
			}
			onReady = func() error { return sendSpaced(p, cfg.Jobs, *idleGap) }
		} else {
			fillQueue(b, p, cfg.Jobs)
		}
		r := runChild(b, child, cfg, onReady)
		requireEmpty(b, filler, url)
		b.Logf("%s: %d jobs handled in %s, stopped %s later; SQS requests %v; %d duplicates; max gap %s; start RSS %.1f MB",
			cfg.Consumer, cfg.Jobs, r.rep.Handled.Round(time.Millisecond), (r.rep.Stopped - r.rep.Handled).Round(time.Millisecond),
			r.rep.Requests, r.rep.Duplicates, r.rep.MaxGap, float64(r.rep.StartRSS)/1e6)
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
	b.ReportMetric(float64(f.cpuPerJob)/float64(time.Microsecond), "cpu-us/job")
	b.ReportMetric(f.peakRSS, "peak-RSS-MB")
	b.ReportMetric(f.startRSS, "start-RSS-MB")
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

// stallGap is the gap with no job finished that makes a drain a stall.
const stallGap = 5 * time.Second

// combine adds up the runs of one consumer in one scenario.
func combine(cfg drain.Config, runs []run) figures {
	var (
		f                     figures
		handled, cpu, stopped time.Duration
		requests              int64
	)
	for _, r := range runs {
		handled += r.rep.Handled
		stopped += r.rep.Stopped - r.rep.Handled
		cpu += time.Duration(r.ru.Utime.Nano()+r.ru.Stime.Nano()) - r.rep.StartCPU
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
	f.stopTail = stopped / time.Duration(len(runs))
	return f
}

// buildChildren builds the test binary of each consumer's package, whose
// TestHelperProcess is that consumer's child, and returns their paths by
// consumer name.
func buildChildren(b *testing.B) map[string]string {
	dir := b.TempDir()
	args := []string{"test", "-c", "-o", dir + string(filepath.Separator)}
	for _, name := range consumerNames {
		args = append(args, "./"+name)
	}
	if out, err := exec.Command("go", args...).CombinedOutput(); err != nil {
		b.Fatalf("build the children: go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	paths := make(map[string]string)
	for _, name := range consumerNames {
		paths[name] = filepath.Join(dir, name+".test")
	}
	return paths
}

// runChild runs the test binary child as TestHelperProcess serving cfg,
// calls onReady (when not nil) once the child reports ready, and returns
// the child's report and rusage once it has exited. It fails b if the
// child does.
func runChild(b *testing.B, child string, cfg drain.Config, onReady func() error) run {
	raw, err := json.Marshal(cfg)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.GiveUp+2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, child, "-test.run=^TestHelperProcess$", "-test.count=1", "-test.timeout=0")
	cmd.Env = append(os.Environ(), drain.Env+"="+string(raw))
	cmd.WaitDelay = 10 * time.Second
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatalf("start the %s child: %v", cfg.Consumer, err)
	}
	var (
		rep      *drain.Report
		other    []string
		readyErr error
	)
	lines := bufio.NewScanner(stdout)
	lines.Buffer(nil, 1<<20)
	for lines.Scan() {
		var l drain.Line
		if err := json.Unmarshal(lines.Bytes(), &l); err != nil {
			other = append(other, lines.Text())
			continue
		}
		if l.Ready && onReady != nil {
			if readyErr = onReady(); readyErr != nil {
				cancel() // stops the child; the lines end
			}
		}
		if l.Report != nil {
			rep = l.Report
		}
	}
	err = cmd.Wait()
	if readyErr != nil {
		b.Fatalf("%s: %v", cfg.Consumer, readyErr)
	}
	if err != nil || rep == nil {
		b.Fatalf("the %s child failed (%v); its output:\n%s\n%s", cfg.Consumer, err, strings.Join(other, "\n"), stderr.String())
	}
	return run{rep: *rep, ru: cmd.ProcessState.SysUsage().(*syscall.Rusage)}
}

// fillQueue sends n ping jobs, messages "0" to "n-1", through p with
// SendBatch, several calls at once.
func fillQueue(b *testing.B, p *producer.Producer, n int) {
	const perCall = 1000
	var g errgroup.Group
	g.SetLimit(4) // each SendBatch has up to 8 calls in flight
	for lo := 0; lo < n; lo += perCall {
		g.Go(func() error {
			js := make([]jobs.Job, min(perCall, n-lo))
			for i := range js {
				js[i] = jobs.Ping{Message: strconv.Itoa(lo + i)}
			}
			_, err := p.SendBatch(context.Background(), js)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		b.Fatalf("fill the queue: %v", err)
	}
}

// sendSpaced sends n ping jobs through p one Send at a time, gap apart;
// each message is the job's index and its send time in Unix nanoseconds.
func sendSpaced(p *producer.Producer, n int, gap time.Duration) error {
	t := time.NewTicker(gap)
	defer t.Stop()
	for i := range n {
		<-t.C
		msg := strconv.Itoa(i) + " " + strconv.FormatInt(time.Now().UnixNano(), 10)
		if _, err := p.Send(context.Background(), jobs.Ping{Message: msg}); err != nil {
			return fmt.Errorf("send idle job %d: %w", i, err)
		}
	}
	return nil
}

// requireEmpty fails b unless url has no message left, visible or not:
// every job was deleted, not just handled.
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
	for _, name := range slices.Sorted(maps.Keys(out.Attributes)) {
		if v := out.Attributes[name]; v != "0" {
			b.Errorf("after the drain %s = %s, want 0", name, v)
		}
	}
}
