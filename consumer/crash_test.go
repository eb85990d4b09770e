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
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/busywork/busywork/consumer"
	"github.com/busywork/busywork/internal/awsclient"
	"github.com/busywork/busywork/internal/testenv"
	"github.com/busywork/busywork/jobs"
)

// workerQueueEnv names the queue a re-executed test binary serves as a
// worker process; see TestMain.
const workerQueueEnv = "BUSYWORK_TEST_WORKER_QUEUE"

// crashConcurrency is the worker process's concurrency limit, and so
// (by default) its bound on finished jobs whose delete is unconfirmed.
const crashConcurrency = 10

// crashBound is what a SIGKILL may run again: the jobs whose deletes were
// unconfirmed (MaxUnconfirmed), and those whose handlers had returned, or
// were running, while that bound was full (Concurrency).
const crashBound = 2 * crashConcurrency

// crashDeleteDelay slows every delete of the worker process (injected in
// front of the emulator), so that finished jobs wait for their deletes up
// to the bound when the worker is killed.
const crashDeleteDelay = 200 * time.Millisecond

func TestMain(m *testing.M) {
	if url := os.Getenv(workerQueueEnv); url != "" {
		os.Exit(runWorkerProcess(url))
	}
	os.Exit(m.Run())
}

// runWorkerProcess serves url until SIGTERM, printing "start ID" and
// "done ID" lines for each job it runs.
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
	c, err := consumer.New(sqs.NewFromConfig(cfg, delay("DeleteMessageBatch", crashDeleteDelay)), mux, consumer.Config{
		Queues:       []consumer.QueueConfig{{URL: url, Concurrency: crashConcurrency}},
		WaitTime:     time.Second,
		DrainTimeout: 5 * time.Second,
		Logger:       slog.New(slog.NewJSONHandler(os.Stderr, nil)),
	})
	if err == nil {
		err = c.Run(ctx)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// workerProcess is a worker running in a child process.
type workerProcess struct {
	cmd   *exec.Cmd
	lines chan string // its stdout, closed at EOF
}

func startWorkerProcess(t *testing.T, url string) *workerProcess {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), workerQueueEnv+"="+url)
	cmd.Stderr = io.Discard
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w := &workerProcess{cmd: cmd, lines: make(chan string, 1024)}
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

func TestConsumer_AfterSIGKILLARestartHandlesEveryJobAndRerunsAtMostTheCrashBound(t *testing.T) {
	testenv.Require(t)
	client := testenv.SQS(t)
	url, _ := testenv.NewQueue(t, client, testenv.QueueOptions{VisibilityTimeout: 2})
	const n = 300
	enqueue(t, client, url, pings(n)...)
	type worker int
	starts := make(map[string]int)
	done := make(map[string]worker) // who finished it first
	rerunFinished := make(map[string]bool)
	record := func(w worker, line string) {
		word, id, _ := strings.Cut(line, " ")
		switch word {
		case "start":
			starts[id]++
			if first, ok := done[id]; ok && first == 1 && w == 2 {
				rerunFinished[id] = true
			}
		case "done":
			if _, ok := done[id]; !ok {
				done[id] = w
			}
		}
	}

	// Killed mid-stream: jobs are running, and finished ones wait for
	// their slowed deletes.
	first := startWorkerProcess(t, url)
	for len(done) < n/3 {
		line, ok := <-first.lines
		if !ok {
			t.Fatalf("the first worker exited after %d jobs", len(done))
		}
		record(1, line)
	}
	if err := first.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	for line := range first.lines { // what it printed before it died
		record(1, line)
	}
	_ = first.cmd.Wait()
	killedAt := len(done)

	second := startWorkerProcess(t, url)
	timeout := time.After(60 * time.Second)
	for len(done) < n {
		select {
		case line, ok := <-second.lines:
			if !ok {
				t.Fatalf("the second worker exited with %d of %d jobs done", len(done), n)
			}
			record(2, line)
		case <-timeout:
			t.Fatalf("after a minute %d of %d jobs were done", len(done), n)
		}
	}
	// A graceful stop: SIGTERM, exit 0, and nothing left on the queue.
	if err := second.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for line := range second.lines {
		record(2, line)
	}
	if err := second.cmd.Wait(); err != nil {
		t.Fatalf("worker after SIGTERM: %v, want exit 0", err)
	}
	receiveNone(t, client, url, 3*time.Second)

	t.Logf("killed after %d jobs; %d finished jobs ran again", killedAt, len(rerunFinished))
	if len(rerunFinished) > crashBound {
		t.Fatalf("%d finished jobs ran again (%v), more than the bound %d", len(rerunFinished), rerunFinished, crashBound)
	}
	if len(rerunFinished) == 0 {
		t.Fatal("no finished job ran again: the kill did not land while deletes were pending, so the bound was not exercised")
	}
}
