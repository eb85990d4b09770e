package main_test

import (
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/busywork/busywork/internal/testenv"
	"github.com/busywork/busywork/jobs"
	"github.com/busywork/busywork/producer"
)

func TestWorker_AMagicLinkIsHandledWithinASecondBehindABulkBacklog(t *testing.T) {
	testenv.Require(t)
	client := testenv.SQS(t)
	lanes := newLanes(t, testenv.QueueOptions{})
	table := testenv.NewTable(t, testenv.DynamoDB(t))
	email := strings.ToLower(testenv.UniqueName(t, "ada", 40)) + "@example.com"
	env := append(workerEnv(lanes), "BUSYWORK_TABLE="+table, "BUSYWORK_ROUTES=ping=bulk")
	if r := runBusywork(t, env, "user", "add", email); r.code != 0 {
		t.Fatalf("user add: exit %d, stderr:\n%s", r.code, r.stderr)
	}

	// 1000 pings of 200 ms: 20 s of work for the bulk lane's 10 slots.
	backlog := make([]jobs.Job, 1000)
	for i := range backlog {
		backlog[i] = jobs.Ping{Message: "bulk", WorkMS: 200}
	}
	if _, err := producer.New(client, lanes[producer.LaneBulk], producer.WithTimeout(time.Minute)).SendBatch(t.Context(), backlog); err != nil {
		t.Fatal(err)
	}
	w := startWorker(t, env)
	// Once a bulk ping has finished, the lane's slots are full: its first
	// receives took 10 messages each.
	w.await(t, "a finished bulk ping", func(l logLine) bool { return l["msg"] == "job" && l["lane"] == producer.LaneBulk })

	since := time.Now()
	id, err := producer.New(client, lanes[producer.LaneCritical]).Send(t.Context(), jobs.MagicLink{Email: email})
	if err != nil {
		t.Fatal(err)
	}
	done := w.await(t, "the magic_link job succeeded", func(l logLine) bool {
		return l["msg"] == "job" && l["job_id"] == id && l["outcome"] == "succeeded"
	})
	if took := time.Since(since); took > time.Second {
		t.Errorf("the magic_link job was handled %s after it was sent, behind the bulk backlog; want within 1s", took)
	}
	if done["lane"] != producer.LaneCritical {
		t.Errorf("the magic_link job ran on lane %v, want critical", done["lane"])
	}
	if mails := testenv.Mails(t, since); !slices.ContainsFunc(mails, func(m testenv.Mail) bool { return slices.Contains(m.Destination.To, email) }) {
		t.Errorf("no email to %s in the SES emulator", email)
	}
	left, err := client.GetQueueAttributes(t.Context(), &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(lanes[producer.LaneBulk]), AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages},
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := left.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessages)]; n == "0" {
		t.Errorf("the bulk backlog was drained by the time the login was handled; the test proves nothing")
	}
	if err := w.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := w.wait(t); code != 0 {
		t.Errorf("worker exited %d after SIGTERM, want 0", code)
	}
}

func TestSend_RoutesAJobTypeToTheLaneOfBUSYWORK_ROUTES(t *testing.T) {
	testenv.Require(t)
	client := testenv.SQS(t)
	lanes := newLanes(t, testenv.QueueOptions{NoDLQ: true})

	toBulk := sendJob(t, append(laneEnv(lanes), "BUSYWORK_ROUTES=ping=bulk"), "ping", `{"message":"routed"}`)
	byDefault := sendJob(t, laneEnv(lanes), "ping", `{"message":"default"}`)
	login := sendJob(t, laneEnv(lanes), "magic_link", `{"email":"ada@example.com"}`)

	for lane, want := range map[string]string{producer.LaneBulk: toBulk, producer.LaneDefault: byDefault, producer.LaneCritical: login} {
		m := testenv.ReceiveAll(t.Context(), t, client, lanes[lane], 1, 10*time.Second)[0]
		if got := testenv.Attr(m, jobs.AttrJobID); got != want {
			t.Errorf("lane %s holds job %s, want %s", lane, got, want)
		}
	}
}

func TestWorker_ServesOnlyTheLanesOfItsLanesFlag(t *testing.T) {
	testenv.Require(t)
	client := testenv.SQS(t)
	lanes := newLanes(t, testenv.QueueOptions{})
	env := workerEnv(lanes)
	others := map[string]string{
		producer.LaneCritical: sendJob(t, env, "magic_link", `{"email":"ada@example.com"}`),
		producer.LaneDefault:  sendJob(t, env, "ping", `{"message":"default"}`),
	}
	bulk := sendJob(t, append(env, "BUSYWORK_ROUTES=ping=bulk"), "ping", `{"message":"bulk"}`)

	w := startBusywork(t, env, "worker", "--lanes", "bulk")
	// A worker serving the other lanes would have received their jobs by
	// then: its pollers all start at once.
	w.await(t, "the bulk job succeeded", func(l logLine) bool { return l["job_id"] == bulk && l["outcome"] == "succeeded" })
	if err := w.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := w.wait(t); code != 0 {
		t.Fatalf("worker exited %d after SIGTERM, want 0; log:\n%s", code, w.text())
	}
	served := w.await(t, "the serving line", func(l logLine) bool { return l["msg"] == "serving queue" })
	other := w.await(t, "the end of the log", func(l logLine) bool {
		return l["msg"] == "serving queue" && l["lane"] != producer.LaneBulk || l["msg"] == "shut down"
	})
	if served["lane"] != producer.LaneBulk || other["msg"] != "shut down" {
		t.Errorf("worker --lanes bulk served lanes %v and %v, want bulk only", served["lane"], other["lane"])
	}
	for lane, id := range others {
		m := testenv.ReceiveAll(t.Context(), t, client, lanes[lane], 1, 10*time.Second)[0]
		if testenv.Attr(m, jobs.AttrJobID) != id || m.Attributes[string(sqstypes.MessageSystemAttributeNameApproximateReceiveCount)] != "1" {
			t.Errorf("lane %s: job %s received %s times before this receive; want never by worker --lanes bulk",
				lane, testenv.Attr(m, jobs.AttrJobID), m.Attributes[string(sqstypes.MessageSystemAttributeNameApproximateReceiveCount)])
		}
	}
}
