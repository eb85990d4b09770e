package consumer

import (
	"context"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/busywork/busywork/jobs"
)

const (
	// maxAttributes is the most message attributes SQS takes.
	maxAttributes = 10
	// maxReasonBytes bounds the error attribute of a dead letter.
	maxReasonBytes = 1024
)

// deadLetter copies m to the lane's DLQ: the same body, its attributes, and
// the attributes error (why) and failed_at (when). A message that arrived
// with only a body keeps its job id: the copy's job_id is the original's
// MessageId, so a replay is recognised as the same job.
func (l *lane) deadLetter(m *message, reason error) error {
	attrs := map[string]types.MessageAttributeValue{
		jobs.AttrError:    stringAttr(truncate(reason.Error(), maxReasonBytes)),
		jobs.AttrFailedAt: stringAttr(time.Now().UTC().Format(time.RFC3339Nano)),
		jobs.AttrJobID:    stringAttr(m.delivery.ID),
	}
	if m.delivery.Type != "" {
		attrs[jobs.AttrJobType] = stringAttr(m.delivery.Type)
	}
	// Keep the original's other attributes, in name order, while they fit.
	names := make([]string, 0, len(m.msg.MessageAttributes))
	for name := range m.msg.MessageAttributes {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if _, ours := attrs[name]; !ours && len(attrs) < maxAttributes {
			attrs[name] = m.msg.MessageAttributes[name]
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	_, err := l.c.client.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl:          aws.String(l.dlqURL),
		MessageBody:       m.msg.Body,
		MessageAttributes: attrs,
	})
	return err
}

func stringAttr(s string) types.MessageAttributeValue {
	return types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(s)}
}

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}
