package consumer

import (
	"context"
	"errors"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/busywork/busywork/jobs"
)

const (
	// maxAttributes is the most message attributes SQS takes.
	maxAttributes = 10
	// maxReasonBytes bounds the error attribute of a dead letter, and the
	// job_type taken from its body.
	maxReasonBytes = 1024
)

// keptFirst are the attributes a dead letter keeps before any other of the
// original's: what identifies the job, proves where it came from, and the
// group a replay completes.
var keptFirst = []string{jobs.AttrJobID, jobs.AttrJobType, jobs.AttrSignature, jobs.AttrGroupID}

// deadLetter copies m to the lane's DLQ (see deadLetterInput).
func (l *lane) deadLetter(m *message, reason error) error {
	return l.send(l.deadLetterInput(l.dlqURL, m, reason))
}

// park puts a copy of m, whose job failed for good but could not be sent
// to the DLQ, back on m's own queue, carrying the failure: whoever
// receives it sends it to the DLQ instead of running its job (see
// parked), and if that keeps failing the queue's redrive policy moves it
// there. A replay from the DLQ drops the failure, so a replayed job runs.
func (l *lane) park(m *message, reason error) error {
	return l.send(l.deadLetterInput(l.url, m, reason))
}

// send makes one SendMessage call of the lane's own: a dead letter, a
// parked one, a fresh copy.
func (l *lane) send(in *sqs.SendMessageInput) error {
	ctx, cancel := context.WithTimeout(context.Background(), l.callTimeout)
	defer cancel()
	_, err := l.c.client.SendMessage(ctx, in)
	return err
}

// parked reports whether msg is a dead letter parked on its queue (it
// carries failed_at, which only dead letters do), and why its job failed.
func parked(msg types.Message) (reason error, ok bool) {
	if _, ok := msg.MessageAttributes[jobs.AttrFailedAt]; !ok {
		return nil, false
	}
	why := attr(msg, jobs.AttrError)
	if why == "" {
		why = "failed for good earlier (no reason recorded)"
	}
	return errors.New(why), true
}

// deadLetterInput is the dead-letter copy of m for queueURL: the same
// body, with the attributes error (why, cleaned to the characters SQS
// takes) and failed_at (when; a parked message keeps its own), and m's
// others as copyInput keeps them.
func (l *lane) deadLetterInput(queueURL string, m *message, reason error) *sqs.SendMessageInput {
	failedAt := l.c.now().UTC().Format(time.RFC3339Nano)
	if at := attr(m.msg, jobs.AttrFailedAt); at != "" {
		failedAt = at
	}
	return l.copyInput(queueURL, m, map[string]types.MessageAttributeValue{
		jobs.AttrError:    stringAttr(attributeText(reason.Error(), maxReasonBytes)),
		jobs.AttrFailedAt: stringAttr(attributeText(failedAt, maxReasonBytes)),
	})
}

// copyInput is a copy of m for queueURL: the same body, the attributes
// own, then job_id, job_type, signature and group_id, then the original's
// other attributes in name order while they fit in SQS's 10; any it drops
// are logged. Every value is cleaned to what SQS takes, so that a job
// whose type holds a control character is still copied. A message that
// arrived with only a body keeps its job id: the copy's job_id is the
// original's MessageId, so the copy is recognised as the same job. The
// copy keeps the traceparent attribute like any other, and the
// original's AWSTraceHeader system attribute, so it stays in the job's
// trace.
func (l *lane) copyInput(queueURL string, m *message, own map[string]types.MessageAttributeValue) *sqs.SendMessageInput {
	attrs := own
	attrs[jobs.AttrJobID] = stringAttr(attributeText(m.delivery.ID, max(len(m.delivery.ID), 1)))
	if m.delivery.Type != "" {
		attrs[jobs.AttrJobType] = stringAttr(attributeText(m.delivery.Type, maxReasonBytes))
	}
	names := make([]string, 0, len(m.msg.MessageAttributes))
	for name := range m.msg.MessageAttributes {
		names = append(names, name)
	}
	sort.Strings(names)
	var dropped []string
	for _, name := range append(keptFirst, names...) {
		v, ok := m.msg.MessageAttributes[name]
		if _, ours := attrs[name]; !ok || ours {
			continue
		}
		if len(attrs) == maxAttributes {
			dropped = append(dropped, name)
			continue
		}
		if v.StringValue != nil {
			s := aws.ToString(v.StringValue)
			v.StringValue = aws.String(attributeText(s, len(s)))
		}
		attrs[name] = v
	}
	if len(dropped) > 0 {
		l.log.Warn("copy of a message: attributes dropped to fit SQS's limit of 10", "job_id", m.delivery.ID, "dropped", dropped)
	}
	in := &sqs.SendMessageInput{QueueUrl: aws.String(queueURL), MessageBody: m.msg.Body, MessageAttributes: attrs}
	if h := m.delivery.AWSTraceHeader; h != "" {
		in.MessageSystemAttributes = map[string]types.MessageSystemAttributeValue{
			string(types.MessageSystemAttributeNameForSendsAWSTraceHeader): {DataType: aws.String("String"), StringValue: aws.String(h)},
		}
	}
	return in
}

func stringAttr(s string) types.MessageAttributeValue {
	return types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(s)}
}

// attributeText returns s as an SQS attribute value takes it: characters
// outside #x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD | #x10000-#x10FFFF
// (invalid UTF-8 included) replaced by U+FFFD, and cut to at most n bytes
// without splitting a character.
func attributeText(s string, n int) string {
	var b strings.Builder
	for _, r := range s {
		if !allowedRune(r) {
			r = utf8.RuneError
		}
		if b.Len()+utf8.RuneLen(r) > n {
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}

func allowedRune(r rune) bool {
	switch {
	case r == '\t' || r == '\n' || r == '\r':
		return true
	case r == utf8.RuneError: // also what ranging yields for invalid UTF-8
		return false
	case r >= 0x20 && r <= 0xD7FF, r >= 0xE000 && r <= 0xFFFD, r >= 0x10000 && r <= 0x10FFFF:
		return true
	}
	return false
}
