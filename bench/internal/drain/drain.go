//go:build linux

// Package drain is the child side of BenchmarkDrain (in package bench): a
// child process serves one queue with one consumer, measures itself and
// reports as JSON on stdout. Each consumer has a package of its own whose
// test binary is its child, so that a child links only its own consumer.
package drain

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"golang.org/x/sync/errgroup"

	"github.com/busywork/busywork/internal/testenv"
	"github.com/busywork/busywork/jobs"
)

// Env is the environment variable that makes Serve run; its value is a
// Config in JSON.
const Env = "BUSYWORK_BENCH_CHILD"

// WarmUp is the message of the job an idle run sends before the child
// starts: the child reports ready once it has handled it.
const WarmUp = "warm-up"

// Config tells a child process what to serve and when to stop.
type Config struct {
	// Consumer names the consumer, for messages.
	Consumer string
	// QueueURL is the queue to serve.
	QueueURL string
	// Concurrency is how many jobs may run at once.
	Concurrency int
	// Jobs is how many distinct jobs the child waits for before it stops
	// the consumer. Their messages are "0" to Jobs-1, each optionally
	// followed by a space and its send time in Unix nanoseconds.
	Jobs int
	// Work is how long each job's handler takes.
	Work time.Duration
	// Idle makes the child report ready (a Line with Ready) once it
	// has handled the warm-up job, and then measure each job's latency
	// from its send time to the start of its handler.
	Idle bool
	// Stream makes the child write a Line with Finished for every job
	// whose handler is about to return nil, before it returns: a job the
	// consumer may have deleted has been reported, so that a parent that
	// kills the child knows every job that may not run again.
	Stream bool
	// GiveUp bounds the wait for all the jobs.
	GiveUp time.Duration
}

// Line is one line of JSON the child writes on stdout: an idle run's
// ready signal or a streaming run's finished jobs, then the report.
type Line struct {
	// Ready says the child has handled the warm-up job.
	Ready bool `json:",omitempty"`
	// Finished is the index of a job whose handler is about to return nil
	// (streaming runs). Each line is one write to stdout, so lines from
	// many handlers at once do not mix.
	Finished *int `json:",omitempty"`
	// Report is the child's report, its last line.
	Report *Report `json:",omitempty"`
}

// Report is what a child measured itself. Durations count from the
// start of consuming: just before the consumer was started.
type Report struct {
	// StartCPU is the process's user+system CPU time when consuming
	// started (process start, test framework, SDK configuration).
	StartCPU time.Duration
	// StartRSS is the process's peak resident set until then, in bytes.
	StartRSS int64
	// PeakRSS is its peak resident set once the consumer had stopped.
	PeakRSS int64
	// Handled is when the last of the jobs had been handled.
	Handled time.Duration
	// Stopped is when the consumer had stopped after that, every delete
	// confirmed as far as the consumer confirms them.
	Stopped time.Duration
	// Duplicates counts jobs handled again after their first time.
	Duplicates int64
	// MaxGap is the longest time with no job finishing, to a resolution of
	// tick: from the start of consuming (from the first job's end in idle
	// runs) to the last job's end.
	MaxGap time.Duration
	// MedianRate is the median of the jobs finished in each whole second of
	// the drain, in jobs/s; 0 for a drain of less than 3 s.
	MedianRate float64
	// P50, P99 and Max are the latencies from send to handler start, in
	// idle runs.
	P50, P99, Max time.Duration
	// Requests counts SQS HTTP requests by operation, retries included.
	Requests map[string]int64
	// Problems counts warnings the consumer logged, SQS HTTP requests that
	// failed below the SDK and bad messages; FirstProblems has the first.
	Problems      int
	FirstProblems []string `json:",omitempty"`
}

// Setup is what a consumer serves and how.
type Setup struct {
	// Client is the SQS client to serve with; its requests are counted.
	Client *sqs.Client
	// QueueURL is the queue to serve.
	QueueURL string
	// Concurrency is how many jobs may run at once.
	Concurrency int
	// Handle is the jobs' handler: the consumer runs it for every message,
	// deleting the message when it returns nil.
	Handle func(context.Context, jobs.Ping) error
	// Problems is where the consumer notes what goes wrong.
	Problems *Problems
}

// Consumer serves s until ctx ends, then stops the way it does on shutdown
// and returns once it has stopped.
type Consumer func(ctx context.Context, s Setup) error

// Serve is the body of a child's TestHelperProcess: when Env is set, it
// serves the queue its Config names with consume until the jobs are
// handled, then stops it and writes its Report as a line of JSON on
// stdout. Without Env it skips t.
func Serve(t *testing.T, consume Consumer) {
	raw := os.Getenv(Env)
	if raw == "" {
		t.Skip("BenchmarkDrain's child process; runs only when it starts it")
	}
	var cfg Config
	if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
		t.Fatalf("%s: %v", Env, err)
	}
	probs := &Problems{}
	requests := &sqsCounter{problems: probs}
	tl := newTally(cfg.Jobs, cfg.Idle)
	var onFinished func(int) error
	if cfg.Stream {
		onFinished = func(i int) error {
			b, err := json.Marshal(Line{Finished: &i})
			if err == nil {
				_, err = os.Stdout.Write(append(b, '\n'))
			}
			return err
		}
	}
	s := Setup{
		Client:      testenv.SQS(t, requests.wrap),
		QueueURL:    cfg.QueueURL,
		Concurrency: cfg.Concurrency,
		Handle:      tl.handler(cfg.Work, probs, onFinished),
		Problems:    probs,
	}
	rep := Report{StartCPU: ProcessCPU(), StartRSS: peakRSS(t)}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ran := make(chan error, 1)
	tl.start = time.Now()
	go func() { ran <- consume(ctx, s) }()
	giveUp := time.After(cfg.GiveUp)
	if cfg.Idle {
		select {
		case <-tl.warm:
		case err := <-ran:
			t.Fatalf("%s stopped before the warm-up job: %v", cfg.Consumer, err)
		case <-giveUp:
			t.Fatalf("%s: the warm-up job was not handled within %s", cfg.Consumer, cfg.GiveUp)
		}
		writeLine(t, Line{Ready: true})
	}
	select {
	case <-tl.done:
	case err := <-ran:
		t.Fatalf("%s stopped after %d of %d jobs: %v", cfg.Consumer, tl.distinct.Load(), cfg.Jobs, err)
	case <-giveUp:
		t.Fatalf("%s: only %d of %d jobs handled within %s", cfg.Consumer, tl.distinct.Load(), cfg.Jobs, cfg.GiveUp)
	}
	cancel()
	select {
	case err := <-ran:
		if err != nil {
			t.Fatalf("%s's stop: %v", cfg.Consumer, err)
		}
	case <-time.After(time.Minute):
		t.Fatalf("%s did not stop within a minute", cfg.Consumer)
	}
	rep.Stopped = time.Since(tl.start)
	rep.PeakRSS = peakRSS(t)
	tl.summarise(&rep)
	rep.Requests = requests.counts()
	rep.Problems, rep.FirstProblems = probs.summary()
	writeLine(t, Line{Report: &rep})
}

// writeLine writes l on stdout as one line of JSON.
func writeLine(t *testing.T, l Line) {
	if err := json.NewEncoder(os.Stdout).Encode(l); err != nil {
		t.Fatal(err)
	}
}

// tick is the resolution of a tally's timeline.
const tick = 100 * time.Millisecond

// maxTicks bounds a tally's timeline (30 minutes); later jobs count in its
// last tick.
const maxTicks = int(30 * time.Minute / tick)

// tally records, from many handlers at once, which of n jobs have finished
// (a job that runs again counts as a duplicate), how many finished in each
// tick since the start, and in idle runs each job's latency from send to
// handler start.
type tally struct {
	start    time.Time // set just before the consumer starts
	n        int
	seen     []atomic.Uint64 // a bit per job
	distinct atomic.Int64
	dups     atomic.Int64
	ticks    []atomic.Int64 // jobs finished per tick since start
	last     atomic.Int64   // when the last new job finished, since start
	latency  []atomic.Int64 // per job: handler start less send time; idle runs only
	warmOnce sync.Once
	warm     chan struct{} // closed when the warm-up job is handled
	done     chan struct{} // closed when all n jobs are
}

func newTally(n int, idle bool) *tally {
	t := &tally{
		n:     n,
		seen:  make([]atomic.Uint64, (n+63)/64),
		ticks: make([]atomic.Int64, maxTicks),
		warm:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	if idle {
		t.latency = make([]atomic.Int64, n)
	}
	return t
}

// handler returns the jobs' handler: it records the job's latency (idle
// runs), takes work (or until ctx ends), calls onFinished (when not nil)
// with the job's index, then records the job as handled. A message that is
// not one of the jobs, or an error of onFinished, is a problem and an
// error (the job is not deleted).
func (t *tally) handler(work time.Duration, probs *Problems, onFinished func(int) error) func(context.Context, jobs.Ping) error {
	return func(ctx context.Context, job jobs.Ping) error {
		began := time.Now()
		if job.Message == WarmUp {
			t.warmOnce.Do(func() { close(t.warm) })
			return nil
		}
		i, sent, err := parseJob(job.Message, t.n)
		if err != nil {
			probs.Add(err.Error())
			return err
		}
		if t.latency != nil && sent != 0 {
			t.latency[i].Store(began.UnixNano() - sent)
		}
		if work > 0 {
			timer := time.NewTimer(work)
			select {
			case <-timer.C:
			case <-ctx.Done():
				timer.Stop()
				return ctx.Err()
			}
		}
		if onFinished != nil {
			if err := onFinished(i); err != nil {
				probs.Add(fmt.Sprintf("report job %d finished: %v", i, err))
				return err
			}
		}
		t.finished(i)
		return nil
	}
}

// parseJob reads a job's message: its index below n and, when given, its
// send time in Unix nanoseconds.
func parseJob(msg string, n int) (i int, sent int64, err error) {
	idx, at, timed := strings.Cut(msg, " ")
	i, err = strconv.Atoi(idx)
	if err == nil && (i < 0 || i >= n) {
		err = fmt.Errorf("index out of range [0, %d)", n)
	}
	if err == nil && timed {
		sent, err = strconv.ParseInt(at, 10, 64)
	}
	if err != nil {
		return 0, 0, fmt.Errorf("job message %q: %v", msg, err)
	}
	return i, sent, nil
}

// finished records job i as handled.
func (t *tally) finished(i int) {
	bit := uint64(1) << (i % 64)
	if t.seen[i/64].Or(bit)&bit != 0 {
		t.dups.Add(1)
		return
	}
	since := time.Since(t.start)
	t.ticks[min(int(since/tick), maxTicks-1)].Add(1)
	for {
		old := t.last.Load()
		if int64(since) <= old || t.last.CompareAndSwap(old, int64(since)) {
			break
		}
	}
	if t.distinct.Add(1) == int64(t.n) {
		close(t.done)
	}
}

// summarise fills in rep's figures of the handled jobs.
func (t *tally) summarise(rep *Report) {
	rep.Handled = time.Duration(t.last.Load())
	rep.Duplicates = t.dups.Load()
	lastTick := min(int(rep.Handled/tick), maxTicks-1)
	counts := make([]int64, lastTick+1)
	for i := range counts {
		counts[i] = t.ticks[i].Load()
	}
	from := 0
	if t.latency != nil { // idle: jobs come only once the child is ready
		from = slices.IndexFunc(counts, func(c int64) bool { return c > 0 })
	}
	run, longest := 0, 0
	for _, c := range counts[from:] {
		if c == 0 {
			run++
			longest = max(longest, run)
		} else {
			run = 0
		}
	}
	rep.MaxGap = time.Duration(longest) * tick
	perTick := int(time.Second / tick)
	var perSecond []float64
	for s := 0; (s+1)*perTick <= lastTick; s++ {
		var sum int64
		for _, c := range counts[s*perTick : (s+1)*perTick] {
			sum += c
		}
		perSecond = append(perSecond, float64(sum))
	}
	if len(perSecond) >= 3 {
		slices.Sort(perSecond)
		rep.MedianRate = perSecond[len(perSecond)/2]
	}
	if t.latency != nil {
		ls := make([]time.Duration, len(t.latency))
		for i := range t.latency {
			ls[i] = time.Duration(t.latency[i].Load())
		}
		slices.Sort(ls)
		rep.P50, rep.P99, rep.Max = quantile(ls, 0.50), quantile(ls, 0.99), ls[len(ls)-1]
	}
}

// quantile returns the q-quantile of sorted (nearest rank).
func quantile(sorted []time.Duration, q float64) time.Duration {
	i := int(float64(len(sorted))*q+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

// Problems counts what went wrong in a child and keeps the text of the
// first few, from many goroutines at once.
type Problems struct {
	mu    sync.Mutex
	n     int
	first []string
}

// Add notes a problem.
func (p *Problems) Add(s string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.n++; len(p.first) < 10 {
		p.first = append(p.first, time.Now().Format("15:04:05.000 ")+s)
	}
}

func (p *Problems) summary() (int, []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n, slices.Clone(p.first)
}

// ProcessCPU returns the user and system CPU time this process has used.
func ProcessCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		panic(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// peakRSS returns this process's peak resident set so far (VmHWM), in
// bytes. Not getrusage's Maxrss: Linux carries the peak of the memory a
// process had before exec into it, and Go starts a child with vfork, on
// its parent's memory, so a child's Maxrss is at least its parent's peak.
func peakRSS(t *testing.T) int64 {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(status)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("/proc/self/status: %q: %v", line, err)
			}
			return kb * 1024
		}
	}
	t.Fatal("/proc/self/status has no VmHWM")
	return 0
}

// HandleBody decodes body, a message's, as a ping job and runs s.Handle on
// it, reporting whether the handler returned nil. A body that is not a
// ping job is a problem of who (the consumer's name, for the message).
func (s Setup) HandleBody(ctx context.Context, who, body string) bool {
	var job jobs.Ping
	if err := json.Unmarshal([]byte(body), &job); err != nil {
		s.Problems.Add(fmt.Sprintf("%s: decode %q: %v", who, body, err))
		return false
	}
	return s.Handle(ctx, job) == nil
}

// Loop runs k goroutines, each calling step until ctx ends or step fails
// (a step in progress when ctx ends is let finish), and returns the first
// error of a step once all have returned.
func Loop(ctx context.Context, k int, step func() error) error {
	var g errgroup.Group
	for range k {
		g.Go(func() error {
			for ctx.Err() == nil {
				if err := step(); err != nil {
					return err
				}
			}
			return nil
		})
	}
	return g.Wait()
}
