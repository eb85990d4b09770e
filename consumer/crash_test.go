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

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/busywork/busywork/consumer"
	"github.com/busywork/busywork/internal/testenv"
	"github.com/busywork/busywork/jobs"
)

// workerQueueEnv names the queue a re-executed test binary serves as a
// worker process; see TestMain.
const workerQueueEnv = "BUSYWORK_TEST_WORKER_QUEUE"

// crashConcurrency is the worker process's concurrency limit.
const crashConcurrency = 10

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
	cfg, err := config.LoadDefaultConfig(ctx)
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
	c, err := consumer.New(sqs.NewFromConfig(cfg), mux, consumer.Config{
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

func TestConsumer_AfterSIGKILLARestartHandlesEveryJobAndRerunsAtMostTheConcurrencyLimit(t *testing.T) {
	testenv.Require(t)
	client := testenv.SQS(t)
	url, _ := testenv.NewQueue(t, client, testenv.QueueOptions{VisibilityTimeout: 2})
	const n = 300
	enqueue(t, client, url, pings(n)...)
	starts := make(map[string]int)
	done := make(map[string]bool)
	record := func(line string) {
		word, id, _ := strings.Cut(line, " ")
		switch word {
		case "start":
			starts[id]++
		case "done":
			done[id] = true
		}
	}

	first := startWorkerProcess(t, url)
	for len(done) < n/3 {
		line, ok := <-first.lines
		if !ok {
			t.Fatalf("the first worker exited after %d jobs", len(done))
		}
		record(line)
	}
	if err := first.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	for line := range first.lines { // what it printed before it died
		record(line)
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
			record(line)
		case <-timeout:
			t.Fatalf("after a minute %d of %d jobs were done", len(done), n)
		}
	}
	// Jobs the first worker finished but had not deleted come back when
	// their 2 s lease runs out, and run again.
	for linger := time.After(4 * time.Second); linger != nil; {
		select {
		case line := <-second.lines:
			record(line)
		case <-linger:
			linger = nil
		}
	}
	// A graceful stop: SIGTERM, exit 0, and nothing left on the queue.
	if err := second.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for line := range second.lines {
		record(line)
	}
	if err := second.cmd.Wait(); err != nil {
		t.Fatalf("worker after SIGTERM: %v, want exit 0", err)
	}
	receiveNone(t, client, url, 3*time.Second)

	var twice []string
	for id, c := range starts {
		if c > 1 {
			twice = append(twice, id)
		}
	}
	t.Logf("killed after %d jobs; %d ran twice", killedAt, len(twice))
	if len(twice) > crashConcurrency {
		t.Fatalf("%d jobs ran twice (%v), more than the concurrency limit %d", len(twice), twice, crashConcurrency)
	}
}
