package main_test

import (
	"strings"
	"syscall"
	"testing"

	"github.com/busywork/busywork/internal/testenv"
)

func TestWorker_RefusesToStartWithoutATicketKeyUnlessEveryEndpointIsLocal(t *testing.T) {
	testenv.Require(t)
	env := workerEnv(newLanes(t, testenv.QueueOptions{}))
	// SES v2 away from the loopback: 0.0.0.0 is no loopback address, and
	// port 1 answers nothing, should the worker ever call it.
	remoteSES := append(env, "AWS_ENDPOINT_URL_SESV2=http://0.0.0.0:1")

	for name, extra := range map[string][]string{
		"SES v2 on another host": {"AWS_ENDPOINT_URL_SESV2=http://0.0.0.0:1"},
		"SES v2 on AWS":          {"AWS_ENDPOINT_URL_SESV2=", "AWS_ENDPOINT_URL="},
	} {
		r := runBusywork(t, append(append(env, "BUSYWORK_TICKET_KEY="), extra...), "worker")
		if r.code != 2 || !strings.Contains(r.stderr, "busywork worker: BUSYWORK_TICKET_KEY is not set: without it anyone can forge the codes printed on tickets") ||
			!strings.Contains(r.stderr, "(SES v2: ") {
			t.Errorf("%s, no key: exit %d, stderr:\n%s\nwant exit 2 naming BUSYWORK_TICKET_KEY and SES v2", name, r.code, r.stderr)
		}
	}

	// With a key, the same worker starts.
	w := startWorker(t, append(remoteSES, "BUSYWORK_TICKET_KEY=a long random secret"))
	w.Await(t, "the lanes served", func(l testenv.LogLine) bool { return l["msg"] == "serving queue" })
	if strings.Contains(w.Text(), "TICKET_KEY") {
		t.Errorf("a worker with a key warns about it:\n%s", w.Text())
	}
	stopWorker(t, w)

	// On the emulators alone, it starts without one, and says so.
	w = startWorker(t, append(env, "BUSYWORK_TICKET_KEY="))
	w.Await(t, "the warning", func(l testenv.LogLine) bool {
		return l["level"] == "WARN" && strings.HasPrefix(l["msg"].(string), "BUSYWORK_TICKET_KEY is not set")
	})
	w.Await(t, "the lanes served", func(l testenv.LogLine) bool { return l["msg"] == "serving queue" })
	stopWorker(t, w)
}

// stopWorker sends w SIGTERM and fails the test unless it exits 0.
func stopWorker(t *testing.T, w *testenv.Process) {
	t.Helper()
	if err := w.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := w.Wait(t, stopHang); code != 0 {
		t.Fatalf("worker exited %d after SIGTERM, want 0; log:\n%s", code, w.Text())
	}
}
