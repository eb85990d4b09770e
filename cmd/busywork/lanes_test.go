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

	"github.com/busywork/busywork/demo"
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
	w.Await(t, "a finished bulk ping", func(l testenv.LogLine) bool { return l["msg"] == "job" && l["lane"] == producer.LaneBulk })

	since := time.Now()
	id, err := producer.New(client, lanes[producer.LaneCritical]).Send(t.Context(), demo.MagicLink{Email: email})
	if err != nil {
		t.Fatal(err)
	}
	done := w.Await(t, "the magic_link job succeeded", func(l testenv.LogLine) bool {
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
	if err := w.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := w.Wait(t, stopHang); code != 0 {
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
	w.Await(t, "the bulk job succeeded", func(l testenv.LogLine) bool { return l["job_id"] == bulk && l["outcome"] == "succeeded" })
	if err := w.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := w.Wait(t, stopHang); code != 0 {
		t.Fatalf("worker exited %d after SIGTERM, want 0; log:\n%s", code, w.Text())
	}
	served := w.Await(t, "the serving line", func(l testenv.LogLine) bool { return l["msg"] == "serving queue" })
	other := w.Await(t, "the end of the log", func(l testenv.LogLine) bool {
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

func TestWorker_AnOrdersJobsFollowTheRoutingTableAcrossLanes(t *testing.T) {
	testenv.Require(t)
	lanes := newLanes(t, testenv.QueueOptions{})
	table := testenv.NewTable(t, testenv.DynamoDB(t))
	email := strings.ToLower(testenv.UniqueName(t, "buyer", 40)) + "@example.com"
	env := append(workerEnv(lanes), "BUSYWORK_TABLE="+table)
	order := strings.ToLower(testenv.UniqueName(t, "order-", 60))
	since := time.Now()
	id := sendJob(t, env, "ticket_order", `{"order_id":"`+order+`","email":"`+email+`","event":"Lanes Live","tickets":3}`)

	w := startWorker(t, env)
	// The order's jobs run on the lanes of handlers.Routes: the
	// order and its tickets on bulk, the dispatch (sent by a bulk job) on
	// the default lane.
	lane := func(what string, match func(testenv.LogLine) bool) any {
		return w.Await(t, what, func(l testenv.LogLine) bool { return l["msg"] == "job" && l["outcome"] == "succeeded" && match(l) })["lane"]
	}
	for what, want := range map[string]struct {
		match func(testenv.LogLine) bool
		lane  string
	}{
		"the ticket_order job":  {func(l testenv.LogLine) bool { return l["job_id"] == id }, producer.LaneBulk},
		"a generate_ticket job": {func(l testenv.LogLine) bool { return l["job_type"] == "generate_ticket" }, producer.LaneBulk},
		"the dispatch job":      {func(l testenv.LogLine) bool { return l["job_type"] == "dispatch_tickets" }, producer.LaneDefault},
	} {
		if got := lane(what, want.match); got != want.lane {
			t.Errorf("%s ran on lane %v, want %s", what, got, want.lane)
		}
	}
	attachments := 0
	for _, m := range testenv.Mails(t, since) {
		if slices.Contains(m.Destination.To, email) {
			attachments += len(m.Attachments)
		}
	}
	if attachments != 3 {
		t.Errorf("%d tickets mailed to %s, want 3", attachments, email)
	}
	if err := w.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := w.Wait(t, stopHang); code != 0 {
		t.Errorf("worker exited %d after SIGTERM, want 0", code)
	}
}
