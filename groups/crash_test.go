package groups_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/busywork/busywork/awsclient"
	"github.com/busywork/busywork/consumer"
	"github.com/busywork/busywork/ddb"
	"github.com/busywork/busywork/groups"
	"github.com/busywork/busywork/internal/bootstrap"
	"github.com/busywork/busywork/internal/testenv"
	"github.com/busywork/busywork/jobs"
	"github.com/busywork/busywork/producer"
)

// A re-executed test binary serves workerQueueEnv's queue with
// workerTableEnv's table as a worker process that dies (see TestMain) at
// the moment workerDieEnv names: dieBeforeSend or dieAfterSend.
const (
	workerQueueEnv = "BUSYWORK_TEST_GROUPS_QUEUE"
	workerTableEnv = "BUSYWORK_TEST_GROUPS_TABLE"
	workerDieEnv   = "BUSYWORK_TEST_GROUPS_DIE"
	dieBeforeSend  = "before-send"
	dieAfterSend   = "after-send"
)

func TestMain(m *testing.M) {
	if url := os.Getenv(workerQueueEnv); url != "" {
		os.Exit(runWorkerProcess(url, os.Getenv(workerTableEnv), os.Getenv(workerDieEnv)))
	}
	os.Exit(m.Run())
}

// runWorkerProcess serves the tests' handlers on url, one job at a time.
// When the last child of a group goes to enqueue the follow-up, it prints
// "dying" and hangs, for the test to kill it: before its send (die is
// dieBeforeSend) or after SQS accepted it, before the group records it.
func runWorkerProcess(url, table, die string) int {
	ctx := context.Background()
	cfg, err := awsclient.Load(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	client := sqs.NewFromConfig(cfg)
	store := ddb.New(awsclient.NewDynamoDB(cfg), table)
	q := &dyingSender{Sender: producer.New(client, url), die: die}
	g := groups.New(store, q, groups.Options{})
	w := &world{partRuns: map[string]int{}, assembled: map[string]int{}, broken: map[string]bool{}}
	c, err := consumer.New(client, w.mux(g), consumer.Config{Queues: []consumer.QueueConfig{{URL: url, Concurrency: 1}}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := c.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// dyingSender is the worker process's Sender: see runWorkerProcess.
type dyingSender struct {
	groups.Sender
	die string
}

func (d *dyingSender) Send(ctx context.Context, j jobs.Job, opts ...producer.SendOption) (string, error) {
	if d.die == dieAfterSend {
		if _, err := d.Sender.Send(ctx, j, opts...); err != nil {
			return "", err
		}
	}
	fmt.Println("dying")
	select {} // until killed
}

func TestGroups_AWorkerKilledBetweenCountingTheLastChildAndRecordingTheFollowUpGivesOneFollowUp(t *testing.T) {
	for _, die := range []string{dieBeforeSend, dieAfterSend} {
		t.Run(die, func(t *testing.T) {
			t.Parallel()
			// The production redrive policy's count: the process killed in
			// a long poll may have had the last child handed to that poll
			// too (SQS does not know the caller is gone), a receive that
			// counts.
			w := newWorldOf(t, bootstrap.DefaultMaxReceiveCount)
			id := w.groupID("killed")
			starter := groups.New(w.store, w.producer, groups.Options{})
			if err := starter.Start(context.Background(), id, parts(id, 3), assemble{Group: id}); err != nil {
				t.Fatal(err)
			}

			cmd := exec.Command(os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), workerQueueEnv+"="+w.queue, workerTableEnv+"="+w.table, workerDieEnv+"="+die)
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			cmd.Stderr = os.Stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
			dying := make(chan struct{})
			go func() {
				sc := bufio.NewScanner(out)
				for sc.Scan() {
					if sc.Text() == "dying" {
						close(dying)
						return
					}
				}
			}()
			select {
			case <-dying:
			case <-time.After(time.Minute):
				t.Fatal("the worker process did not reach the follow-up's send within a minute")
			}
			b := w.await(id, 0, "complete", ddb.Batch.Complete)
			if !b.FollowUpSentAt.IsZero() {
				t.Fatalf("group %+v: the follow-up is recorded sent before the kill", b)
			}
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			_ = cmd.Wait()

			// Another worker takes over: the last child comes back when
			// the dead worker's lease on it ends.
			q := &counting{Sender: w.producer}
			w.serve(q)
			w.await(id, 2*time.Minute, "followed up", ddb.Batch.Dispatched)
			testenv.AwaitEmpty(t, w.sqs, w.queue, time.Minute)
			if got := w.assembledCount(id); got != 1 {
				t.Errorf("the follow-up ran %d times, want 1", got)
			}
			// Killed before its send, the follow-up is enqueued once, by
			// the new worker. Killed after, the new worker enqueues it
			// again only if the last child comes back before the
			// follow-up ran, and that copy is skipped.
			sent := q.followUps.Load()
			if die == dieBeforeSend && sent != 1 || sent > 1 {
				t.Errorf("the new worker enqueued the follow-up %d times, want 1 (0 or 1 after a send)", sent)
			}
		})
	}
}
