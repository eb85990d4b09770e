package redrive_test

import (
	"errors"
	"testing"

	"github.com/busywork/busywork/internal/redrive"
)

const arn = "arn:aws:sqs:us-east-1:000000000000:jobs-dlq"

func TestParse_ReadsTheCountAsNumberOrString(t *testing.T) {
	for _, policy := range []string{
		`{"deadLetterTargetArn":"` + arn + `","maxReceiveCount":5}`,
		`{"deadLetterTargetArn":"` + arn + `","maxReceiveCount":"5"}`,
	} {
		p, err := redrive.Parse(policy)
		if err != nil || p != (redrive.Policy{DeadLetterTargetARN: arn, MaxReceiveCount: 5}) {
			t.Errorf("Parse(%s) = %+v, %v", policy, p, err)
		}
	}
	if _, err := redrive.Parse(""); !errors.Is(err, redrive.ErrNoPolicy) {
		t.Errorf(`Parse("") error %v, want ErrNoPolicy`, err)
	}
	for _, bad := range []string{
		"{",
		`{"deadLetterTargetArn":"` + arn + `","maxReceiveCount":"x"}`,
		`{"deadLetterTargetArn":"` + arn + `","maxReceiveCount":0}`,
		`{"deadLetterTargetArn":"jobs-dlq","maxReceiveCount":5}`,
	} {
		if _, err := redrive.Parse(bad); err == nil || errors.Is(err, redrive.ErrNoPolicy) {
			t.Errorf("Parse(%q) error %v, want one saying what is wrong", bad, err)
		}
	}
}

func TestPolicy_StringIsWhatParseReads(t *testing.T) {
	p := redrive.Policy{DeadLetterTargetARN: arn, MaxReceiveCount: 7}
	if got := p.String(); got != `{"deadLetterTargetArn":"`+arn+`","maxReceiveCount":7}` {
		t.Errorf("String() = %s", got)
	}
	if back, err := redrive.Parse(p.String()); err != nil || back != p {
		t.Errorf("Parse(String()) = %+v, %v", back, err)
	}
}

func TestParseQueueARN(t *testing.T) {
	account, name, err := redrive.ParseQueueARN(arn)
	if err != nil || account != "000000000000" || name != "jobs-dlq" {
		t.Errorf("ParseQueueARN = %q, %q, %v", account, name, err)
	}
	for _, bad := range []string{"", "jobs-dlq", "arn:aws:sns:us-east-1:000000000000:topic", "arn:aws:sqs:us-east-1:000000000000:"} {
		if _, _, err := redrive.ParseQueueARN(bad); err == nil {
			t.Errorf("ParseQueueARN(%q) succeeded", bad)
		}
	}
}
