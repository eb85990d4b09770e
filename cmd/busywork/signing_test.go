package main_test

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/busywork/busywork/internal/testenv"
	"github.com/busywork/busywork/jobs"
	"github.com/busywork/busywork/producer"
)

// sendJob runs `busywork send TYPE JSON` with env and returns the job id it
// printed.
func sendJob(t *testing.T, env []string, typ, fields string) string {
	t.Helper()
	r := runBusywork(t, env, "send", typ, fields)
	if r.code != 0 {
		t.Fatalf("send %s %s: exit %d, stderr:\n%s", typ, fields, r.code, r.stderr)
	}
	return strings.TrimSpace(r.stdout)
}

func TestSigning_WorkerHandlesSignedJobsAndDeadLettersUnsignedAndForgedOnes(t *testing.T) {
	testenv.Require(t)
	client := testenv.SQS(t)
	url, dlqURL := testenv.NewQueue(t, client, testenv.QueueOptions{})
	lanes := newLanes(t, testenv.QueueOptions{})
	lanes[producer.LaneDefault] = url
	env := workerEnv(lanes)
	const key = "BUSYWORK_SIGNING_KEY=the-key"

	signed := sendJob(t, append(env, key), "ping", `{"message":"signed"}`)
	unsigned := sendJob(t, env, "ping", `{"message":"unsigned"}`)
	otherKey := sendJob(t, append(env, "BUSYWORK_SIGNING_KEY=another-key"), "ping", `{"message":"other key"}`)

	// A forger who saw a signed message changes its body and keeps the rest.
	scratch, _ := testenv.NewQueue(t, client, testenv.QueueOptions{NoDLQ: true})
	tampered := sendJob(t, append(laneEnv(map[string]string{producer.LaneDefault: scratch}), key), "ping", `{"message":"pay 1"}`)
	orig := testenv.ReceiveAll(t.Context(), t, client, scratch, 1, 10*time.Second)[0]
	if testenv.Attr(orig, jobs.AttrSignature) == "" {
		t.Fatalf("send with a signing key sent no %s attribute: %v", jobs.AttrSignature, orig.MessageAttributes)
	}
	if _, err := client.SendMessage(t.Context(), &sqs.SendMessageInput{
		QueueUrl:          aws.String(url),
		MessageBody:       aws.String(strings.Replace(aws.ToString(orig.Body), "pay 1", "pay 1000", 1)),
		MessageAttributes: orig.MessageAttributes,
	}); err != nil {
		t.Fatal(err)
	}

	w := startWorker(t, append(env, key))
	w.await(t, "the signed job succeeded", func(l logLine) bool {
		return l["msg"] == "job" && l["job_id"] == signed && l["outcome"] == "succeeded"
	})
	w.await(t, "the signed ping's line", func(l logLine) bool { return l["msg"] == "ping" && l["job_id"] == signed })

	reasons := map[string]string{}
	for _, m := range testenv.ReceiveAll(t.Context(), t, client, dlqURL, 3, 20*time.Second) {
		reasons[testenv.Attr(m, jobs.AttrJobID)] = testenv.Attr(m, jobs.AttrError)
	}
	for name, id := range map[string]string{"unsigned": unsigned, "signed with another key": otherKey, "tampered with": tampered} {
		if !strings.Contains(reasons[id], "signature") {
			t.Errorf("the job %s (%s) in the DLQ with error %q, want it there with the signature as the reason", name, id, reasons[id])
		}
	}
	if _, ok := reasons[signed]; ok {
		t.Errorf("the signed job is in the DLQ: %q", reasons[signed])
	}
	if r := reasons[unsigned]; r == reasons[otherKey] || r == reasons[tampered] {
		t.Errorf("unsigned and forged jobs share the reason %q, want it to say which", r)
	}
}
