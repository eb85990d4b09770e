package main_test

import (
	"strings"
	"testing"
	"time"

	"github.com/busywork/busywork/internal/testenv"
	"github.com/busywork/busywork/producer"
)

// delayEnv is a worker's and the commands' environment for delayed jobs
// on fresh lanes and a fresh table, with hops shortened to 2 s (the send's
// first and the worker's) and waits of up to 1 s held in a slot.
func delayEnv(t *testing.T) (env []string, urls map[string]string) {
	t.Helper()
	urls = newLanes(t, testenv.QueueOptions{MaxReceiveCount: 5})
	env = append(workerEnv(urls), "BUSYWORK_TABLE="+testenv.NewTable(t, testenv.DynamoDB(t)),
		"BUSYWORK_MAX_HOP=2s", "BUSYWORK_HOLD_LIMIT=1s")
	return env, urls
}

// sendLater runs send with args and returns the job id it printed and
// when it was sent.
func sendLater(t *testing.T, env []string, args ...string) (id string, sent time.Time) {
	t.Helper()
	sent = time.Now()
	r := runBusywork(t, env, append([]string{"send"}, args...)...)
	id = strings.TrimSpace(r.stdout)
	if r.code != 0 || id == "" || strings.ContainsAny(id, " \n") || !strings.Contains(r.stderr, "due ") ||
		!strings.Contains(r.stderr, "busywork cancel "+id) {
		t.Fatalf("send %q: exit %d, stdout %q, stderr:\n%s\nwant exit 0, the job id, and when it is due", args, r.code, r.stdout, r.stderr)
	}
	return id, sent
}

// pings returns the ping lines of job id in w's log.
func pings(w *testenv.Process, id string) []testenv.LogLine {
	var lines []testenv.LogLine
	for _, l := range pingLines(w) {
		if l["job_id"] == id {
			lines = append(lines, l)
		}
	}
	return lines
}

// A job sent with --delay 12s, four times the 2 s hop, and a worker killed
// (SIGKILL) while the job hops: a second worker runs it once, not before
// its due time. A job cancelled with the command beside it never runs.
// The first one, once run, can no longer be cancelled.
func TestSendDelay_RunsOnceAfterItsDelayAcrossAWorkerKilledMidDelayAndCancelStopsAnother(t *testing.T) {
	testenv.Require(t)
	env, urls := delayEnv(t)
	const delay = 12 * time.Second
	late, sent := sendLater(t, env, "--delay", delay.String(), "ping", `{"message":"late"}`)
	// Flags after the arguments work too.
	gone, _ := sendLater(t, env, "ping", `{"message":"gone"}`, "--delay", delay.String())
	r := runBusywork(t, env, "cancel", gone)
	if r.code != 0 || !strings.Contains(r.stdout, "cancelled "+gone+" (ping, was due ") {
		t.Fatalf("cancel: exit %d, stdout %q, stderr:\n%s", r.code, r.stdout, r.stderr)
	}

	first := startWorker(t, env)
	first.Await(t, "a hop of the delayed job", func(l testenv.LogLine) bool {
		return l["msg"] == "job" && l["job_id"] == late && l["outcome"] == "snoozed"
	})
	if err := first.Cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	first.Wait(t, stopHang)
	if time.Since(sent) >= delay {
		t.Fatalf("the first worker was killed %v after the send, not mid-delay", time.Since(sent))
	}

	second := startWorker(t, env)
	ran := second.Await(t, "the delayed ping", func(l testenv.LogLine) bool { return l["msg"] == "ping" && l["job_id"] == late })
	at, err := time.Parse(time.RFC3339Nano, ran["time"].(string))
	if err != nil {
		t.Fatal(err)
	}
	if due := sent.Add(delay); at.Before(due) {
		t.Errorf("the job ran at %s, %v before its due time", at.Format(time.RFC3339Nano), due.Sub(at))
	}
	second.Await(t, "the cancelled job skipped", func(l testenv.LogLine) bool {
		return l["job_id"] == gone && l["outcome"] == "cancelled"
	})
	testenv.AwaitEmpty(t, testenv.SQS(t), urls[producer.LaneDefault], time.Minute)
	for _, w := range []*testenv.Process{first, second} {
		if n := len(pings(w, gone)); n != 0 {
			t.Errorf("the cancelled job ran %d times", n)
		}
	}
	if n := len(pings(first, late)) + len(pings(second, late)); n != 1 {
		t.Errorf("the delayed job ran %d times, want once", n)
	}
	dlqEmpty(t, urls[producer.LaneDefault])

	r = runBusywork(t, env, "cancel", late)
	if r.code != 1 || !strings.Contains(r.stderr, "job "+late+" (ping) started at ") || !strings.Contains(r.stderr, "too late to cancel") {
		t.Errorf("cancel of a job that ran: exit %d, stderr:\n%s\nwant exit 1 saying it started", r.code, r.stderr)
	}
}

// A cancel of an id with no delayed job exits 1 naming it; a job sent at
// a time in the past runs now, and has nothing to cancel.
func TestCancel_UnknownJobExitsOneNamingIt(t *testing.T) {
	testenv.Require(t)
	env, _ := delayEnv(t)
	r := runBusywork(t, env, "cancel", "no-such-job")
	if r.code != 1 || !strings.Contains(r.stderr, "busywork cancel: no delayed job no-such-job in table ") {
		t.Errorf("cancel of an unknown id: exit %d, stderr:\n%s", r.code, r.stderr)
	}
	past := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	id, _ := sendLater(t, env, "--at", past, "ping", `{}`)
	if r := runBusywork(t, env, "cancel", id); r.code != 1 || !strings.Contains(r.stderr, "no delayed job "+id) {
		t.Errorf("cancel of a job sent at a past time: exit %d, stderr:\n%s", r.code, r.stderr)
	}
}
