package dlq

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/busywork/busywork/jobs"
)

func TestErrorGroup_OneCauseIsOneGroup(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", NoError},
		{"  boom \n", "boom"},
		{"ses: SendEmail: TooManyRequestsException: rate exceeded, RequestID: 1f0e8f2a-7c56-4c2b-9a41-0d7a3f1b2c3d",
			"ses: SendEmail: TooManyRequestsException: rate exceeded, RequestID: <id>"},
		{`invalid magic_link job: email: "ada" is not a plain address`, `invalid magic_link job: email: "…" is not a plain address`},
		{"no user ada@example.com", "no user <email>"},
		{"ticket 17 of order 3B6YQ5V7B4KJ2M: render: timeout after 10.5s", "ticket <n> of order <id>: render: timeout after <n>s"},
		{"operation error SESv2: SendEmail, https response error StatusCode: 503", "operation error SESv2: SendEmail, https response error StatusCode: <n>"},
		{"dial tcp 10.0.0.1:443:\tconnection   refused", "dial tcp <n>:<n>: connection refused"},
		{"queue busywork-jobs-dlq is gone", "queue busywork-jobs-dlq is gone"},
	}
	for _, tt := range tests {
		if got := errorGroup(tt.in); got != tt.want {
			t.Errorf("errorGroup(%q)\n = %q\nwant %q", tt.in, got, tt.want)
		}
	}
}

func message(id, body string, attrs map[string]types.MessageAttributeValue) types.Message {
	return types.Message{MessageId: aws.String(id), Body: aws.String(body), MessageAttributes: attrs}
}

func TestSendBatches_KeepsEachCallUnderTenMessagesAndOneMiB(t *testing.T) {
	big := strings.Repeat("x", 300<<10)
	var msgs []types.Message
	for range 4 {
		msgs = append(msgs, message("b", big, nil))
	}
	for range 12 {
		msgs = append(msgs, message("s", "{}", nil))
	}
	var sizes []int
	for _, b := range sendBatches(msgs) {
		sizes = append(sizes, len(b))
	}
	// 3 × 300 KiB fit in 1 MiB, a 4th does not; then 1 big and 9 small,
	// then the 3 small left.
	if got, want := sizes, []int{3, 10, 3}; len(got) != len(want) || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Errorf("batch sizes %v, want %v", got, want)
	}
}

func TestReplayAttributes_KeepTheJobsDropTheFailureAndAttemptsAndAddReplayedAt(t *testing.T) {
	s := stringAttr
	m := message("m-1", "{}", map[string]types.MessageAttributeValue{
		jobs.AttrJobID: s("j-1"), jobs.AttrJobType: s("ping"), jobs.AttrSignature: s("abc"), jobs.AttrEnqueuedAt: s("t0"),
		"tenant": s("acme"), jobs.AttrError: s("boom"), jobs.AttrFailedAt: s("t1"), AttrReplayedAt: s("t-earlier"),
		jobs.AttrAttempts: s("3"),
	})
	got := replayAttributes(m, "t2")
	want := map[string]string{jobs.AttrJobID: "j-1", jobs.AttrJobType: "ping", jobs.AttrSignature: "abc", jobs.AttrEnqueuedAt: "t0", "tenant": "acme", AttrReplayedAt: "t2"}
	if len(got) != len(want) {
		t.Errorf("attributes %v, want %v", got, want)
	}
	for k, v := range want {
		if aws.ToString(got[k].StringValue) != v {
			t.Errorf("%s = %q, want %q", k, aws.ToString(got[k].StringValue), v)
		}
	}

	// A job that came with only a body keeps the id the consumer gave it.
	bare := replayAttributes(message("m-2", "{}", map[string]types.MessageAttributeValue{jobs.AttrError: s("boom")}), "t2")
	if aws.ToString(bare[jobs.AttrJobID].StringValue) != "m-2" || len(bare) != 2 {
		t.Errorf("bare message's attributes %v, want job_id m-2 and replayed_at", bare)
	}

	// Ten attributes of the job's own leave no room for replayed_at.
	full := map[string]types.MessageAttributeValue{jobs.AttrJobID: s("j")}
	for _, name := range []string{"a", "b", "c", "d", "e", "f", "g", "h", "i"} {
		full[name] = s(name)
	}
	if got := replayAttributes(message("m-3", "{}", full), "t2"); len(got) != 10 {
		t.Errorf("%d attributes, want SQS's 10 at most", len(got))
	}
}

func TestTraceHeader_TheReplayKeepsTheAWSTraceHeader(t *testing.T) {
	const xray = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
	m := message("m-1", "{}", nil)
	if got := traceHeader(m); got != nil {
		t.Errorf("a message without one: %v, want none", got)
	}
	m.Attributes = map[string]string{string(types.MessageSystemAttributeNameAWSTraceHeader): xray}
	got := traceHeader(m)["AWSTraceHeader"]
	if aws.ToString(got.StringValue) != xray || aws.ToString(got.DataType) != "String" {
		t.Errorf("AWSTraceHeader = %q (%s), want %q", aws.ToString(got.StringValue), aws.ToString(got.DataType), xray)
	}
}
