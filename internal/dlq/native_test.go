package dlq_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/busywork/busywork/internal/dlq"
	"github.com/busywork/busywork/internal/testenv"
)

// moveTaskFake stands in front of the SQS emulator, which has no message
// move tasks: it answers StartMessageMoveTask, ListMessageMoveTasks and
// CancelMessageMoveTask in SQS's JSON protocol as SQS documents them, and
// passes every other call on to the emulator.
type moveTaskFake struct {
	mu       sync.Mutex
	requests map[string][]map[string]any // by action, the JSON bodies received
	replies  map[string]string
}

func newMoveTaskFake(t *testing.T, replies map[string]string) (*moveTaskFake, func(*sqs.Options)) {
	t.Helper()
	testenv.Require(t)
	emulator, err := url.Parse(os.Getenv(testenv.EnvSQS))
	if err != nil {
		t.Fatal(err)
	}
	f := &moveTaskFake{requests: map[string][]map[string]any{}, replies: replies}
	proxy := httputil.NewSingleHostReverseProxy(emulator)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		action := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "AmazonSQS.")
		reply, ok := f.replies[action]
		if !ok {
			proxy.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(r.Body)
		var in map[string]any
		if err == nil {
			err = json.Unmarshal(body, &in)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		f.requests[action] = append(f.requests[action], in)
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/x-amz-json-1.0")
		io.WriteString(w, reply)
	}))
	t.Cleanup(srv.Close)
	return f, func(o *sqs.Options) { o.BaseEndpoint = aws.String(srv.URL) }
}

func (f *moveTaskFake) got(action string) []map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests[action]
}

func TestStartMove_StartsATaskToTheQueueAtTheRate(t *testing.T) {
	fake, endpoint := newMoveTaskFake(t, map[string]string{"StartMessageMoveTask": `{"TaskHandle":"handle-1"}`})
	w := newWorld(t, testenv.QueueOptions{}, endpoint)

	handle, err := w.q.StartMove(ctx(t), 25)
	if err != nil || handle != "handle-1" {
		t.Fatalf("StartMove = %q, %v", handle, err)
	}
	reqs := fake.got("StartMessageMoveTask")
	want := map[string]any{"SourceArn": w.q.DeadLetterARN, "DestinationArn": w.q.ARN, "MaxNumberOfMessagesPerSecond": float64(25)}
	if len(reqs) != 1 || len(reqs[0]) != len(want) {
		t.Fatalf("requests %v, want one: %v", reqs, want)
	}
	for k, v := range want {
		if reqs[0][k] != v {
			t.Errorf("%s = %v, want %v", k, reqs[0][k], v)
		}
	}
	if !strings.HasSuffix(w.q.ARN, ":"+w.q.Name) || !strings.HasSuffix(w.q.DeadLetterARN, ":"+w.q.DeadLetterName) {
		t.Errorf("ARNs %s, %s do not name the queues", w.q.ARN, w.q.DeadLetterARN)
	}

	for _, rate := range []int{0, 501} {
		if _, err := w.q.StartMove(ctx(t), rate); err == nil {
			t.Errorf("StartMove at %d a second: no error", rate)
		}
	}
	if n := len(fake.got("StartMessageMoveTask")); n != 1 {
		t.Errorf("%d StartMessageMoveTask calls, want the bad rates refused before any", n)
	}
}

func TestMoveTasks_ListsTheTasksAndCancelsTheRunningOnes(t *testing.T) {
	fake, endpoint := newMoveTaskFake(t, map[string]string{
		"ListMessageMoveTasks": `{"Results":[
			{"TaskHandle":"handle-2","Status":"RUNNING","SourceArn":"arn:aws:sqs:us-east-1:000000000000:q-dlq","DestinationArn":"arn:aws:sqs:us-east-1:000000000000:q",
			 "MaxNumberOfMessagesPerSecond":10,"ApproximateNumberOfMessagesMoved":40,"ApproximateNumberOfMessagesToMove":100,"StartedTimestamp":1764584400000},
			{"Status":"FAILED","SourceArn":"arn:aws:sqs:us-east-1:000000000000:q-dlq","ApproximateNumberOfMessagesMoved":3,
			 "FailureReason":"AWS.SimpleQueueService.NonExistentQueue","StartedTimestamp":1764580000000}]}`,
		"CancelMessageMoveTask": `{"ApproximateNumberOfMessagesMoved":41}`,
	})
	w := newWorld(t, testenv.QueueOptions{}, endpoint)

	tasks, err := w.q.MoveTasks(ctx(t))
	if err != nil || len(tasks) != 2 {
		t.Fatalf("MoveTasks = %+v, %v", tasks, err)
	}
	if tk := tasks[0]; tk.Handle != "handle-2" || tk.Status != "RUNNING" || tk.Moved != 40 || tk.ToMove != 100 || tk.Rate != 10 ||
		tk.Started.Unix() != 1764584400 {
		t.Errorf("running task = %+v", tk)
	}
	if tk := tasks[1]; tk.Status != "FAILED" || tk.ToMove != -1 || tk.Failure != "AWS.SimpleQueueService.NonExistentQueue" {
		t.Errorf("failed task = %+v", tk)
	}
	if reqs := fake.got("ListMessageMoveTasks"); len(reqs) != 1 || reqs[0]["SourceArn"] != w.q.DeadLetterARN {
		t.Errorf("ListMessageMoveTasks requests %v, want one for %s", reqs, w.q.DeadLetterARN)
	}
	var out strings.Builder
	if err := dlq.WriteTasks(&out, tasks); err != nil || !strings.Contains(out.String(), "RUNNING  40     100      10/s") {
		t.Errorf("WriteTasks (%v):\n%s", err, out.String())
	}

	cancelled, err := w.q.CancelMoveTasks(ctx(t))
	if err != nil || len(cancelled) != 1 || cancelled[0].Handle != "handle-2" || cancelled[0].Moved != 41 {
		t.Fatalf("CancelMoveTasks = %+v, %v; want the running task, 41 moved", cancelled, err)
	}
	if reqs := fake.got("CancelMessageMoveTask"); len(reqs) != 1 || reqs[0]["TaskHandle"] != "handle-2" {
		t.Errorf("CancelMessageMoveTask requests %v, want one for handle-2", reqs)
	}
}

func TestMoveTasks_FailWithErrNoMoveTasksOnTheEmulator(t *testing.T) {
	w := newWorld(t, testenv.QueueOptions{})
	_, startErr := w.q.StartMove(ctx(t), 10)
	_, listErr := w.q.MoveTasks(ctx(t))
	_, cancelErr := w.q.CancelMoveTasks(ctx(t))
	for name, err := range map[string]error{"StartMove": startErr, "MoveTasks": listErr, "CancelMoveTasks": cancelErr} {
		if !errors.Is(err, dlq.ErrNoMoveTasks) {
			t.Errorf("%s: %v, want ErrNoMoveTasks", name, err)
		}
	}
}
