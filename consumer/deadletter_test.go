package consumer

import (
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/busywork/busywork/jobs"
)

func TestAttributeText_KeepsWhatSQSAllowsAndFitsTheLimit(t *testing.T) {
	tests := []struct {
		name, in string
		n        int
		want     string
	}{
		{"plain", "boom: bad thing", 100, "boom: bad thing"},
		{"tabs and newlines kept", "a\tb\nc\rd", 100, "a\tb\nc\rd"},
		{"control characters replaced", "a\x00b\x1fc", 100, "a\uFFFDb\uFFFDc"},
		{"noncharacters replaced", "a\uFFFEb\uFFFF", 100, "a\uFFFDb\uFFFD"},
		{"invalid UTF-8 replaced", "a\xffb", 100, "a\uFFFDb"},
		{"astral kept", "ticket 🎟", 100, "ticket 🎟"},
		{"cut at the limit", strings.Repeat("x", 20), 8, "xxxxxxxx"},
		{"never splits a character", "ab€", 4, "ab"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := attributeText(tt.in, tt.n)
			if got != tt.want || len(got) > tt.n || !utf8.ValidString(got) {
				t.Fatalf("attributeText(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
			}
		})
	}
}

func TestDeadLetterInput_CleansEveryAttributeValueItCopies(t *testing.T) {
	l := &lane{c: &Consumer{now: time.Now}, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	body := `{"type":"\u0001bad"}`
	m := &message{msg: types.Message{
		MessageId: aws.String("m-1"),
		Body:      aws.String(body),
		MessageAttributes: map[string]types.MessageAttributeValue{
			jobs.AttrJobID: {DataType: aws.String("String"), StringValue: aws.String("id\x00")},
			"note":         {DataType: aws.String("String.custom"), StringValue: aws.String("a\x1bb\xff")},
			"blob":         {DataType: aws.String("Binary"), BinaryValue: []byte{0, 1, 2}},
		},
	}}
	m.delivery.ID = "id\x00"
	m.delivery.Type, m.malformed = jobs.PeekType([]byte(body))
	if m.delivery.Type != "\x01bad" {
		t.Fatalf("PeekType = %q; the test needs a type with a control character", m.delivery.Type)
	}
	in := l.deadLetterInput("http://q/dlq", m, errors.New("no handler for \x02"))
	if aws.ToString(in.MessageBody) != body {
		t.Errorf("body = %q, want the original", aws.ToString(in.MessageBody))
	}
	for name, v := range in.MessageAttributes {
		if v.StringValue == nil {
			continue
		}
		s := aws.ToString(v.StringValue)
		if !utf8.ValidString(s) {
			t.Errorf("attribute %s = %q is not UTF-8", name, s)
		}
		for _, r := range s {
			if r != utf8.RuneError && !allowedRune(r) {
				t.Errorf("attribute %s = %q holds %U, which SQS refuses", name, s, r)
			}
		}
	}
	if got := aws.ToString(in.MessageAttributes[jobs.AttrJobType].StringValue); got != "\uFFFDbad" {
		t.Errorf("job_type = %q, want the type with its control character replaced", got)
	}
	if got := in.MessageAttributes["blob"].BinaryValue; string(got) != "\x00\x01\x02" {
		t.Errorf("binary attribute = %v, want it copied as it is", got)
	}
}

func TestParked_OnlyMessagesCarryingFailedAt(t *testing.T) {
	plain := types.Message{MessageAttributes: map[string]types.MessageAttributeValue{
		jobs.AttrError: {DataType: aws.String("String"), StringValue: aws.String("a producer's own error attribute")},
	}}
	if _, ok := parked(plain); ok {
		t.Error("a message with error but no failed_at counts as parked")
	}
	p := types.Message{MessageAttributes: map[string]types.MessageAttributeValue{
		jobs.AttrError:    {DataType: aws.String("String"), StringValue: aws.String("permanent: bad card")},
		jobs.AttrFailedAt: {DataType: aws.String("String"), StringValue: aws.String("2026-12-04T10:00:00Z")},
	}}
	if why, ok := parked(p); !ok || why.Error() != "permanent: bad card" {
		t.Errorf("parked = %v, %v; want its recorded reason", why, ok)
	}
}

func TestDeadLetterInput_KeepsEveryAttributeOfBusyworksAndTheTrace(t *testing.T) {
	const xray = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
	var logs strings.Builder
	l := &lane{c: &Consumer{now: time.Now}, log: slog.New(slog.NewTextHandler(&logs, nil))}
	// The most a message of busywork's carries: with error and failed_at,
	// the 10 SQS allows.
	attrs := map[string]types.MessageAttributeValue{}
	for _, name := range []string{jobs.AttrJobID, jobs.AttrJobType, jobs.AttrEnqueuedAt, jobs.AttrSignature,
		jobs.AttrGroupID, jobs.AttrDueAt, jobs.AttrAttempts, jobs.AttrTraceParent} {
		attrs[name] = types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(name + "-value")}
	}
	m := &message{msg: types.Message{
		MessageId:         aws.String("m-1"),
		Body:              aws.String(`{"type":"ping"}`),
		MessageAttributes: attrs,
		Attributes:        map[string]string{string(types.MessageSystemAttributeNameAWSTraceHeader): xray},
	}}
	m.delivery = Delivery{ID: "job_id-value", Type: "ping", AWSTraceHeader: xray}

	in := l.deadLetterInput("http://q/dlq", m, errors.New("boom"))
	if len(in.MessageAttributes) != maxAttributes || logs.Len() > 0 {
		t.Errorf("%d attributes (logged %q), want all 10 kept", len(in.MessageAttributes), logs.String())
	}
	if got := aws.ToString(in.MessageAttributes[jobs.AttrTraceParent].StringValue); got != "traceparent-value" {
		t.Errorf("traceparent = %q, want the original's", got)
	}
	if got := aws.ToString(in.MessageSystemAttributes["AWSTraceHeader"].StringValue); got != xray {
		t.Errorf("AWSTraceHeader system attribute = %q, want the original's %q", got, xray)
	}
}
