package main_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/busywork/busywork/internal/testenv"
	"github.com/busywork/busywork/producer"
)

// drainTimeout is the workers' BUSYWORK_DRAIN_TIMEOUT in these tests.
const drainTimeout = 10 * time.Second

// laneQueueVars are the variables naming each lane's queue.
var laneQueueVars = map[string]string{
	producer.LaneCritical: "BUSYWORK_CRITICAL_QUEUE",
	producer.LaneDefault:  "BUSYWORK_QUEUE",
	producer.LaneBulk:     "BUSYWORK_BULK_QUEUE",
}

// newLanes creates a queue for each lane, with a DLQ unless opts says
// otherwise, and returns their URLs by lane.
func newLanes(t *testing.T, opts testenv.QueueOptions) map[string]string {
	client := testenv.SQS(t)
	urls := map[string]string{}
	for _, lane := range producer.Lanes() {
		urls[lane], _ = testenv.NewQueue(t, client, opts)
	}
	return urls
}

// laneEnv points commands at the lanes' queues, given by URL.
func laneEnv(urls map[string]string) []string {
	var env []string
	for lane, url := range urls {
		env = append(env, laneQueueVars[lane]+"="+queueName(url))
	}
	return env
}

// workerEnv points a worker at the lanes' queues, with the production long
// poll, a short drain and an admin listener on a port the system picks.
func workerEnv(urls map[string]string) []string {
	return append(laneEnv(urls),
		"BUSYWORK_ADMIN_ADDR=127.0.0.1:0",
		"BUSYWORK_DRAIN_TIMEOUT="+drainTimeout.String(),
	)
}

func queueName(url string) string { return url[strings.LastIndexByte(url, '/')+1:] }

func TestWorker_HandlesAJobFromSendServesAdminAndStopsOnSIGTERM(t *testing.T) {
	testenv.Require(t)
	env := workerEnv(newLanes(t, testenv.QueueOptions{}))

	sent := runBusywork(t, env, "send", "ping", `{"message":"hi"}`)
	if sent.code != 0 {
		t.Fatalf("send: exit %d, stderr:\n%s", sent.code, sent.stderr)
	}
	jobID := strings.TrimSpace(sent.stdout)
	if jobID == "" || strings.ContainsAny(jobID, " \n") {
		t.Fatalf("send printed %q, want one job id", sent.stdout)
	}

	w := startWorker(t, env)
	admin := w.Await(t, "the admin listener", func(l testenv.LogLine) bool { return l["msg"] == "admin listening" })["addr"].(string)
	w.Await(t, "job "+jobID+" succeeded", func(l testenv.LogLine) bool {
		return l["msg"] == "job" && l["job_id"] == jobID && l["outcome"] == "succeeded"
	})
	w.Await(t, "the ping line", func(l testenv.LogLine) bool {
		return l["msg"] == "ping" && l["job_id"] == jobID && l["message"] == "hi"
	})

	if code, body := get(t, "http://"+admin+"/healthz"); code != http.StatusOK || strings.TrimSpace(body) != "ok" {
		t.Errorf("/healthz = %d %q, want 200 ok", code, body)
	}
	if r := runBusywork(t, append(env, "BUSYWORK_ADMIN_ADDR="+admin), "health"); r.code != 0 {
		t.Errorf("busywork health against the worker: exit %d, stderr:\n%s", r.code, r.stderr)
	}
	code, metrics := get(t, "http://"+admin+"/metrics")
	for _, name := range []string{"busywork_jobs_total", "busywork_sqs_requests_total", "go_goroutines", "process_cpu_seconds_total"} {
		if code != http.StatusOK || !strings.Contains(metrics, name) {
			t.Errorf("/metrics (status %d) lacks %s", code, name)
		}
	}
	if !strings.Contains(metrics, `busywork_jobs_total{lane="default",outcome="succeeded",type="ping"} 1`) {
		t.Errorf("/metrics does not count the succeeded ping:\n%s", grep(metrics, "busywork_jobs_total"))
	}

	if err := w.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := w.Wait(t, stopHang); code != 0 {
		t.Fatalf("worker exited %d after SIGTERM, want 0; log:\n%s", code, w.Text())
	}
	w.Await(t, "the shutdown line", func(l testenv.LogLine) bool { return l["msg"] == "shut down" })
}

func TestWorker_ExitsOneWhenTheQueueDoesNotExist(t *testing.T) {
	testenv.Require(t)
	missing := testenv.UniqueName(t, "missing-", 80)
	r := runBusywork(t, workerEnv(map[string]string{producer.LaneDefault: "http://127.0.0.1/000000000000/" + missing}), "worker")
	if r.code != 1 || !strings.Contains(r.stderr, "does not exist: run `busywork bootstrap`") {
		t.Fatalf("exit %d, stderr:\n%s\nwant exit 1 telling to run busywork bootstrap", r.code, r.stderr)
	}
}

func TestBootstrap_SecondRunFindsEverythingAlreadyThere(t *testing.T) {
	testenv.Require(t)
	table := testenv.UniqueName(t, "bw-", 255)
	env := []string{"BUSYWORK_TABLE=" + table}
	var queues, want []string
	for _, lane := range producer.Lanes() {
		queue := testenv.UniqueName(t, "bw-"+lane+"-", 76)
		queues = append(queues, queue, queue+"-dlq")
		env = append(env, laneQueueVars[lane]+"="+queue)
		want = append(want, "queue "+queue+"-dlq: already there", "queue "+queue+": already there")
	}
	t.Cleanup(func() { deleteQueuesAndTable(t, queues, table) })

	first := runBusywork(t, env, "bootstrap")
	if first.code != 0 || strings.Count(first.stdout, ": created") != 8 {
		t.Fatalf("first bootstrap: exit %d, stdout:\n%s\nstderr:\n%s\nwant 8 resources created (3 queues, their DLQs, the table and its TTL)", first.code, first.stdout, first.stderr)
	}
	second := runBusywork(t, env, "bootstrap")
	want = append(want,
		"table "+table+": already there",
		"time to live on "+table+".ttl: already there",
		"sender no-reply@example.com: skipped: the endpoint does not support email identities",
	)
	if second.code != 0 || strings.TrimSpace(second.stdout) != strings.Join(want, "\n") {
		t.Fatalf("second bootstrap: exit %d, stdout:\n%s\nstderr:\n%s\nwant:\n%s", second.code, second.stdout, second.stderr, strings.Join(want, "\n"))
	}
}

func deleteQueuesAndTable(t *testing.T, queues []string, table string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client := testenv.SQS(t)
	for _, name := range queues {
		out, err := client.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(name)})
		if err == nil {
			_, err = client.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: out.QueueUrl})
		}
		var gone *sqstypes.QueueDoesNotExist
		if err != nil && !errors.As(err, &gone) {
			t.Errorf("delete queue %s: %v", name, err)
		}
	}
	_, err := testenv.DynamoDB(t).DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(table)})
	var gone *ddbtypes.ResourceNotFoundException
	if err != nil && !errors.As(err, &gone) {
		t.Errorf("delete table %s: %v", table, err)
	}
}

// startWorker starts `busywork worker` with the test's environment plus
// env.
func startWorker(t *testing.T, env []string) *testenv.Process {
	t.Helper()
	return startBusywork(t, env, "worker")
}

// startBusywork starts the binary with args and the test's environment
// plus env, and collects its log; the test's end kills it if it still runs.
func startBusywork(t *testing.T, env []string, args ...string) *testenv.Process {
	t.Helper()
	cmd := exec.Command(busywork, args...)
	cmd.Env = append(os.Environ(), env...)
	return testenv.StartProcess(t, cmd)
}

// stopHang is how long a stopping command may run before the test calls
// it hung: a hang detector far above any drain, not a speed requirement.
const stopHang = time.Minute

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := (&http.Client{Transport: &http.Transport{}}).Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp.StatusCode, string(body)
}

func grep(text, substr string) string {
	var out []string
	for line := range strings.Lines(text) {
		if strings.Contains(line, substr) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "")
}

func TestWorker_MailsOneMagicLinkToAUserAddedWithTheCLI(t *testing.T) {
	testenv.Require(t)
	table := testenv.NewTable(t, testenv.DynamoDB(t))
	email := strings.ToLower(testenv.UniqueName(t, "ada", 40)) + "@example.com"
	env := append(workerEnv(newLanes(t, testenv.QueueOptions{})), "BUSYWORK_TABLE="+table, "BUSYWORK_BASE_URL=https://busywork.example.com")
	since := time.Now()

	if r := runBusywork(t, env, "user", "add", "--name", "Ada <b>Lovelace</b>", strings.ToUpper(email)); r.code != 0 {
		t.Fatalf("user add: exit %d, stderr:\n%s", r.code, r.stderr)
	}
	sent := runBusywork(t, env, "send", "magic_link", `{"email":"`+email+`"}`)
	if sent.code != 0 {
		t.Fatalf("send: exit %d, stderr:\n%s", sent.code, sent.stderr)
	}
	jobID := strings.TrimSpace(sent.stdout)
	w := startWorker(t, env)
	w.Await(t, "the magic_link job succeeded", func(l testenv.LogLine) bool {
		return l["msg"] == "job" && l["job_id"] == jobID && l["outcome"] == "succeeded"
	})

	var mine []testenv.Mail
	for _, m := range testenv.Mails(t, since) {
		if slices.Contains(m.Destination.To, email) {
			mine = append(mine, m)
		}
	}
	if len(mine) != 1 {
		t.Fatalf("%d emails to %s, want 1", len(mine), email)
	}
	if body := mine[0].Body.HTML; !strings.Contains(body, "https://busywork.example.com/auth/verify?token=") ||
		!strings.Contains(body, "&lt;b&gt;Lovelace&lt;/b&gt;") {
		t.Fatalf("HTML part lacks the link or the escaped name:\n%s", body)
	}
}
