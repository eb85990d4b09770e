package consumer_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/busywork/busywork/awsclient"
	"github.com/busywork/busywork/consumer"
	"github.com/busywork/busywork/internal/testenv"
	"github.com/busywork/busywork/jobs"
	"github.com/busywork/busywork/metrics"
)

// workerQueueEnv names the queue a re-executed test binary serves as a
// worker process; see TestMain. workerSlowDeletesEnv, when set, is how
// much longer than the rest its deletes take; workerUnconfirmedEnv its
// MaxUnconfirmed.
const (
	workerQueueEnv       = "BUSYWORK_TEST_WORKER_QUEUE"
	workerSlowDeletesEnv = "BUSYWORK_TEST_WORKER_SLOW_DELETES"
	workerUnconfirmedEnv = "BUSYWORK_TEST_WORKER_MAX_UNCONFIRMED"
)

// crashConcurrency is the worker process's concurrency limit.
const crashConcurrency = 10

// crashRoundTrip is what the delaying proxy in front of the emulator adds
// to every SQS call of the worker processes: SQS's round trip in a region.
const crashRoundTrip = 20 * time.Millisecond

// crashDrain is the worker process's drain timeout.
const crashDrain = 5 * time.Second

func TestMain(m *testing.M) {
	if url := os.Getenv(workerQueueEnv); url != "" {
		os.Exit(runWorkerProcess(url))
	}
	os.Exit(m.Run())
}

// runWorkerProcess serves url until SIGTERM, printing "start ID" and
// "done ID" lines for each job it runs, and "limit N" whenever the
// consumer's limit of unconfirmed deletes changes.
func runWorkerProcess(url string) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	cfg, err := awsclient.Load(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	var mu sync.Mutex
	say := func(word, id string) {
		mu.Lock()
		fmt.Printf("%s %s\n", word, id)
		mu.Unlock()
	}
	mux := consumer.NewMux()
	consumer.Handle(mux, func(ctx context.Context, j jobs.Ping) error {
		say("start", j.Message)
		time.Sleep(20 * time.Millisecond)
		say("done", j.Message)
		return nil
	})
	var opts []func(*sqs.Options)
	if d, err := time.ParseDuration(os.Getenv(workerSlowDeletesEnv)); err == nil {
		opts = append(opts, delay("DeleteMessageBatch", d))
	}
	maxUnconfirmed, _ := strconv.Atoi(os.Getenv(workerUnconfirmedEnv))
	reg := prometheus.NewRegistry()
	c, err := consumer.New(sqs.NewFromConfig(cfg, opts...), mux, consumer.Config{
		Queues:       []consumer.QueueConfig{{URL: url, Concurrency: crashConcurrency, MaxUnconfirmed: maxUnconfirmed}},
		DrainTimeout: crashDrain,
		Logger:       slog.New(slog.NewJSONHandler(os.Stderr, nil)),
		Metrics:      metrics.NewConsumer(reg),
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	go func() { // ends with the process
		var last float64
		for range time.Tick(10 * time.Millisecond) {
			if v := gaugeValue(reg, "busywork_deletes_unconfirmed_limit"); v != last {
				last = v
				say("limit", strconv.FormatFloat(v, 'f', 0, 64))
			}
		}
	}()
	if err := c.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// gaugeValue returns the value of the gauge called name in reg (the
// first series), or 0.
func gaugeValue(reg *prometheus.Registry, name string) float64 {
	families, err := reg.Gather()
	if err != nil {
		return 0
	}
	for _, f := range families {
		if f.GetName() == name && len(f.GetMetric()) > 0 {
			return f.GetMetric()[0].GetGauge().GetValue()
		}
	}
	return 0
}

// workerProcess is a worker running in a child process.
type workerProcess struct {
	cmd   *exec.Cmd
	lines chan string // its stdout, closed at EOF
}

// crashCase is how the worker processes of a crash test are slowed and
// bounded.
type crashCase struct {
	name           string
	slowDeletes    time.Duration // added to every delete, before it is sent
	maxUnconfirmed int           // 0: the default
	// exercised says that deletes wait unsent at the kill, so that some
	// finished jobs must run again. With no more than the round trip, a
	// full batch of deletes goes out as its jobs finish, and one already
	// on its way reaches SQS though its sender dies.
	exercised bool
}

func startWorkerProcess(t *testing.T, url, sqsEndpoint string, c crashCase) *workerProcess {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), workerQueueEnv+"="+url, testenv.EnvSQS+"="+sqsEndpoint,
		workerSlowDeletesEnv+"="+c.slowDeletes.String(), workerUnconfirmedEnv+"="+strconv.Itoa(c.maxUnconfirmed))
	cmd.Stderr = io.Discard
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w := &workerProcess{cmd: cmd, lines: make(chan string, 4096)}
	go func() {
		defer close(w.lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			w.lines <- sc.Text()
		}
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return w
}

// crashRecord is what the worker processes of a test printed, by job.
type crashRecord struct {
	starts   map[string]int
	doneBy   map[string]int // the worker that finished a job first
	rerun    map[string]int // finished by worker w, started again by a later one: w
	maxLimit int            // the highest limit of unconfirmed deletes the worker printed
}

func newCrashRecord() *crashRecord {
	return &crashRecord{starts: map[string]int{}, doneBy: map[string]int{}, rerun: map[string]int{}}
}

// read records the lines of worker w until done holds or its output ends.
func (r *crashRecord) read(t *testing.T, w int, p *workerProcess, done func() bool) {
	t.Helper()
	timeout := time.After(time.Minute)
	for !done() {
		select {
		case line, ok := <-p.lines:
			if !ok {
				return
			}
			r.line(w, line)
		case <-timeout:
			t.Fatalf("worker %d: after a minute %d jobs were done", w, len(r.doneBy))
		}
	}
}

func (r *crashRecord) line(w int, line string) {
	word, arg, _ := strings.Cut(line, " ")
	switch word {
	case "start":
		r.starts[arg]++
		if first, ok := r.doneBy[arg]; ok && first < w {
			r.rerun[arg] = first
		}
	case "done":
		if _, ok := r.doneBy[arg]; !ok {
			r.doneBy[arg] = w
		}
	case "limit":
		if n, err := strconv.Atoi(arg); err == nil && w == 1 {
			r.maxLimit = max(r.maxLimit, n)
		}
	}
}

// reruns returns how many jobs worker w finished that a later worker ran
// again.
func (r *crashRecord) reruns(w int) int {
	n := 0
	for _, by := range r.rerun {
		if by == w {
			n++
		}
	}
	return n
}

// Through a proxy that adds SQS's round trip to every call, a worker is
// killed outright mid-stream; a second one is stopped with SIGTERM
// mid-stream; a third finishes. Killed, the first runs again at most
// Concurrency + the limit of unconfirmed deletes it had reached (the
// documented bound, min(MaxUnconfirmed, max(Concurrency, 10, 2 × rate ×
// the deletes' round trip))); stopped, the second exits 0 within its
// bound, and none of the jobs it finished runs again. With every call
// taking the round trip; with deletes taking 200 ms more (a slow SQS: the
// limit follows the deletes' round trip, so speed is kept); and with that
// and MaxUnconfirmed 20, where the ceiling holds the deletes back.
func TestConsumer_AfterSIGKILLARestartHandlesEveryJobAndRerunsAtMostTheCrashBound(t *testing.T) {
	for _, c := range []crashCase{
		{name: "round trip 20ms"},
		{name: "deletes 200ms slower", slowDeletes: 200 * time.Millisecond, exercised: true},
		{name: "deletes 200ms slower, at most 20 unconfirmed", slowDeletes: 200 * time.Millisecond, maxUnconfirmed: 20, exercised: true},
	} {
		t.Run(c.name, func(t *testing.T) { crashAndRestart(t, c) })
	}
}

func crashAndRestart(t *testing.T, c crashCase) {
	testenv.Require(t)
	client := testenv.SQS(t)
	proxy := testenv.NewDelayProxy(t, os.Getenv(testenv.EnvSQS))
	proxy.Set(testenv.Delay{Before: crashRoundTrip})
	url, _ := testenv.NewQueue(t, client, testenv.QueueOptions{VisibilityTimeout: 30})
	const n = 1200
	enqueue(t, client, url, pings(n)...)
	rec := newCrashRecord()

	first := startWorkerProcess(t, url, proxy.URL, c)
	rec.read(t, 1, first, func() bool { return len(rec.doneBy) >= n/3 })
	if err := first.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	for line := range first.lines { // what it printed before it died
		rec.line(1, line)
	}
	_ = first.cmd.Wait()
	killedAt := len(rec.doneBy)

	second := startWorkerProcess(t, url, proxy.URL, c)
	rec.read(t, 2, second, func() bool { return len(rec.doneBy) >= 2*n/3 })
	stopped := time.Now()
	if err := second.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for line := range second.lines {
		rec.line(2, line)
	}
	if err := second.cmd.Wait(); err != nil {
		t.Fatalf("worker after SIGTERM: %v, want exit 0", err)
	}
	if took, bound := time.Since(stopped), crashDrain+consumer.ShutdownMargin; took > bound {
		t.Errorf("SIGTERM: the worker exited %s after it, past its bound %s", took, bound)
	}

	third := startWorkerProcess(t, url, proxy.URL, c)
	rec.read(t, 3, third, func() bool { return len(rec.doneBy) >= n })
	if err := third.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for line := range third.lines {
		rec.line(3, line)
	}
	if err := third.cmd.Wait(); err != nil {
		t.Fatalf("the last worker after SIGTERM: %v, want exit 0", err)
	}
	receiveNone(t, client, url, 3*time.Second)

	bound := crashConcurrency + rec.maxLimit
	killed, stoppedReruns := rec.reruns(1), rec.reruns(2)
	t.Logf("killed after %d jobs: %d finished jobs ran again (bound %d: concurrency %d + unconfirmed limit %d); %d after the SIGTERM",
		killedAt, killed, bound, crashConcurrency, rec.maxLimit, stoppedReruns)
	if killed > bound {
		t.Errorf("%d finished jobs ran again after SIGKILL, more than the bound %d", killed, bound)
	}
	if c.maxUnconfirmed > 0 && rec.maxLimit > c.maxUnconfirmed {
		t.Errorf("the limit of unconfirmed deletes reached %d, past MaxUnconfirmed %d", rec.maxLimit, c.maxUnconfirmed)
	}
	if c.exercised && killed == 0 {
		t.Error("no finished job ran again: the kill did not land while deletes were unconfirmed, so the bound was not exercised")
	}
	if stoppedReruns > 0 {
		t.Errorf("%d jobs the SIGTERMed worker finished ran again: its stop did not confirm their deletes", stoppedReruns)
	}
}
