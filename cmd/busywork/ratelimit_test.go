package main_test

import (
	"os"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/busywork/busywork/internal/testenv"
	"github.com/busywork/busywork/jobs"
	"github.com/busywork/busywork/producer"
)

// Two worker processes share BUSYWORK_RATE_LIMITS's ping limit through
// the table: 120 pings all run once, no second of the fleet's starts holds
// more than two seconds' worth, the drain takes at least as long as the
// rate allows, and nothing is dead-lettered on a queue that moves a
// message after 5 receives. The same with the limit per minute; then the
// limit is changed between runs, on the same table, and the new one holds.
//
// The workers reach SQS and DynamoDB through proxies that add a 20 ms
// round trip, as in a region.
func TestWorker_RateLimitHoldsAcrossTwoWorkers(t *testing.T) {
	testenv.Require(t)
	table := testenv.NewTable(t, testenv.DynamoDB(t))
	var remote []string
	for _, endpoint := range []string{testenv.EnvSQS, testenv.EnvDynamoDB} {
		proxy := testenv.NewDelayProxy(t, os.Getenv(endpoint))
		proxy.Set(testenv.Delay{Before: 10 * time.Millisecond, After: 10 * time.Millisecond})
		remote = append(remote, endpoint+"="+proxy.URL)
	}
	for _, limit := range []struct {
		env  string
		rate float64 // a second
	}{
		{"ping=10/s", 10},
		{"ping=600/m", 10},
		{"ping=20/s", 20},
	} {
		t.Run(limit.env, func(t *testing.T) {
			urls := newLanes(t, testenv.QueueOptions{MaxReceiveCount: 5})
			env := append(workerEnv(urls), "BUSYWORK_TABLE="+table, "BUSYWORK_RATE_LIMITS="+limit.env)
			env = append(env, remote...)
			const n = 120
			sendPings(t, urls[producer.LaneDefault], n)
			workers := []*testenv.Process{startWorker(t, env), startWorker(t, env)}

			var starts []time.Time
			handled := map[string]int{}
			deadline := time.Now().Add(3 * time.Minute)
			for len(starts) < n && time.Now().Before(deadline) {
				time.Sleep(200 * time.Millisecond)
				starts, handled = pingStarts(t, workers)
			}
			if len(starts) != n || len(handled) != n {
				t.Fatalf("%d ping runs of %d jobs, want %d of %d", len(starts), len(handled), n, n)
			}
			for _, w := range workers {
				if err := w.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
					t.Fatal(err)
				}
			}
			for i, w := range workers {
				if ran := len(pingLines(w)); ran == 0 {
					t.Errorf("worker %d ran no ping: the limit was not shared by two", i)
				}
				if code := w.Wait(t, stopHang); code != 0 {
					t.Fatalf("worker exited %d, log:\n%s", code, w.Text())
				}
			}
			if _, handled = pingStarts(t, workers); len(handled) != n {
				t.Errorf("%d jobs ran, want %d", len(handled), n)
			}
			for msg, runs := range handled {
				if runs != 1 {
					t.Errorf("ping %s ran %d times", msg, runs)
				}
			}
			slices.SortFunc(starts, time.Time.Compare)
			busiest := 0
			for i := range starts {
				j, _ := slices.BinarySearchFunc(starts, starts[i].Add(time.Second), time.Time.Compare)
				busiest = max(busiest, j-i)
			}
			drain := starts[n-1].Sub(starts[0])
			t.Logf("%s: busiest second %d starts, drain %s", limit.env, busiest, drain)
			if most := int(2 * limit.rate); busiest > most {
				t.Errorf("a second holds %d starts, more than %d", busiest, most)
			}
			if least := time.Duration(float64(n-1) / limit.rate * float64(time.Second)); drain < least-100*time.Millisecond {
				t.Errorf("drained in %s, faster than the limit allows (%s)", drain, least)
			}
			for _, lane := range producer.Lanes() {
				dlqEmpty(t, urls[lane])
			}
			for _, w := range workers {
				for _, l := range w.Lines() {
					if l["msg"] == "job" && l["outcome"] != "succeeded" && l["outcome"] != "snoozed" {
						t.Errorf("a job's outcome: %v", l)
					}
				}
			}
		})
	}
}

// sendPings enqueues n pings, whose messages are "0" to "n-1", on url.
func sendPings(t *testing.T, url string, n int) {
	t.Helper()
	p := producer.New(testenv.SQS(t), url)
	for start := 0; start < n; start += producer.MaxBatchEntries {
		batch := make([]jobs.Job, 0, producer.MaxBatchEntries)
		for i := start; i < min(start+producer.MaxBatchEntries, n); i++ {
			batch = append(batch, jobs.Ping{Message: strconv.Itoa(i)})
		}
		if _, err := p.SendBatch(t.Context(), batch); err != nil {
			t.Fatal(err)
		}
	}
}

// pingStarts returns when the workers' ping handlers ran, from their log
// lines, and how often each ping (by message) ran.
func pingStarts(t *testing.T, workers []*testenv.Process) ([]time.Time, map[string]int) {
	t.Helper()
	var starts []time.Time
	runs := map[string]int{}
	for _, w := range workers {
		for _, l := range pingLines(w) {
			at, err := time.Parse(time.RFC3339Nano, l["time"].(string))
			if err != nil {
				t.Fatalf("ping line's time: %v", err)
			}
			starts = append(starts, at)
			runs[l["message"].(string)]++
		}
	}
	return starts, runs
}

// pingLines returns w's ping lines so far.
func pingLines(w *testenv.Process) []testenv.LogLine {
	var lines []testenv.LogLine
	for _, l := range w.Lines() {
		if l["msg"] == "ping" {
			lines = append(lines, l)
		}
	}
	return lines
}

// dlqOf returns the URL of the DLQ testenv.NewQueue made for url.
func dlqOf(url string) string { return url + "-dlq" }

// dlqEmpty fails the test if the DLQ of url holds a message.
func dlqEmpty(t *testing.T, url string) {
	t.Helper()
	if n := testenv.QueueSize(t, testenv.SQS(t), dlqOf(url)); n > 0 {
		t.Errorf("the DLQ of %s holds %d messages, want none", queueName(url), n)
	}
}
