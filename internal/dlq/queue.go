package dlq

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/busywork/busywork/internal/redrive"
	"github.com/busywork/busywork/jobs"
)

// SQSAPI is the part of *sqs.Client that this package calls.
type SQSAPI interface {
	GetQueueAttributes(ctx context.Context, in *sqs.GetQueueAttributesInput, optFns ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
	GetQueueUrl(ctx context.Context, in *sqs.GetQueueUrlInput, optFns ...func(*sqs.Options)) (*sqs.GetQueueUrlOutput, error)
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, optFns ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	ChangeMessageVisibilityBatch(ctx context.Context, in *sqs.ChangeMessageVisibilityBatchInput, optFns ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityBatchOutput, error)
	SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
	DeleteMessageBatch(ctx context.Context, in *sqs.DeleteMessageBatchInput, optFns ...func(*sqs.Options)) (*sqs.DeleteMessageBatchOutput, error)
	StartMessageMoveTask(ctx context.Context, in *sqs.StartMessageMoveTaskInput, optFns ...func(*sqs.Options)) (*sqs.StartMessageMoveTaskOutput, error)
	ListMessageMoveTasks(ctx context.Context, in *sqs.ListMessageMoveTasksInput, optFns ...func(*sqs.Options)) (*sqs.ListMessageMoveTasksOutput, error)
	CancelMessageMoveTask(ctx context.Context, in *sqs.CancelMessageMoveTaskInput, optFns ...func(*sqs.Options)) (*sqs.CancelMessageMoveTaskOutput, error)
}

var _ SQSAPI = (*sqs.Client)(nil)

// AttrReplayedAt is the attribute Replay adds to a replayed message: when
// it was sent back, in RFC 3339.
const AttrReplayedAt = "replayed_at"

// Queue is a queue and its dead-letter queue.
type Queue struct {
	client SQSAPI
	// Name, URL and ARN are the queue's, where Replay sends.
	Name, URL, ARN string
	// DeadLetterName, DeadLetterURL and DeadLetterARN are its dead-letter
	// queue's, the target of its redrive policy.
	DeadLetterName, DeadLetterURL, DeadLetterARN string
}

// Open reads the redrive policy of the queue at queueURL and returns the
// queue with its dead-letter queue.
func Open(ctx context.Context, client SQSAPI, queueURL string) (*Queue, error) {
	q := &Queue{client: client, URL: queueURL, Name: queueURL[strings.LastIndexByte(queueURL, '/')+1:]}
	out, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl:       aws.String(queueURL),
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn, types.QueueAttributeNameRedrivePolicy},
	})
	if err != nil {
		return nil, fmt.Errorf("queue %s: %w", q.Name, err)
	}
	q.ARN = out.Attributes[string(types.QueueAttributeNameQueueArn)]
	policy, err := redrive.Parse(out.Attributes[string(types.QueueAttributeNameRedrivePolicy)])
	if errors.Is(err, redrive.ErrNoPolicy) {
		return nil, fmt.Errorf("queue %s has no redrive policy, so no dead-letter queue", q.Name)
	}
	if err != nil {
		return nil, fmt.Errorf("queue %s: %w", q.Name, err)
	}
	q.DeadLetterARN = policy.DeadLetterTargetARN
	_, q.DeadLetterName, _ = redrive.ParseQueueARN(q.DeadLetterARN) // Parse checked it
	if q.DeadLetterURL, err = redrive.QueueURL(ctx, client, q.DeadLetterARN); err != nil {
		return nil, fmt.Errorf("dead-letter queue of %s: %w", q.Name, err)
	}
	return q, nil
}

// Letter is one dead letter as received from the dead-letter queue.
type Letter struct {
	// MessageID is the dead letter's SQS MessageId.
	MessageID string `json:"message_id"`
	// JobID is its job_id attribute, or MessageID when it has none (the
	// id the consumer gives such a job).
	JobID string `json:"job_id"`
	// Type is its job_type attribute, or the body's "type" field; "" when
	// neither says.
	Type string `json:"type"`
	// Error is its error attribute: why the consumer dead-lettered it. It
	// is "" for a message SQS moved after maxReceiveCount receives.
	Error string `json:"error"`
	// FailedAt is its failed_at attribute as written (RFC 3339), or "".
	FailedAt string `json:"failed_at"`
	// ReceiveCount is SQS's ApproximateReceiveCount, this read included.
	ReceiveCount int `json:"receive_count"`
	// SentAt is when the message entered its queue (SentTimestamp); SQS's
	// retention counts from it.
	SentAt time.Time `json:"sent_at"`
	// Body is the message body.
	Body string `json:"body"`
	// Queue is the name of the dead-letter queue Peek read it from.
	Queue string `json:"queue,omitempty"`

	msg types.Message
}

// newLetter reads a received message.
func newLetter(m types.Message) *Letter {
	l := &Letter{
		MessageID: aws.ToString(m.MessageId),
		JobID:     attr(m, jobs.AttrJobID),
		Type:      attr(m, jobs.AttrJobType),
		Error:     attr(m, jobs.AttrError),
		FailedAt:  attr(m, jobs.AttrFailedAt),
		Body:      aws.ToString(m.Body),
		msg:       m,
	}
	if l.JobID == "" {
		l.JobID = l.MessageID
	}
	if l.Type == "" {
		l.Type, _ = jobs.PeekType([]byte(l.Body)) // "" when the body has none
	}
	l.ReceiveCount, _ = strconv.Atoi(m.Attributes[string(types.MessageSystemAttributeNameApproximateReceiveCount)])
	if ms, err := strconv.ParseInt(m.Attributes[string(types.MessageSystemAttributeNameSentTimestamp)], 10, 64); err == nil {
		l.SentAt = time.UnixMilli(ms).UTC()
	}
	return l
}

func attr(m types.Message, name string) string {
	return aws.ToString(m.MessageAttributes[name].StringValue)
}

// Filter selects dead letters; its zero value selects all.
type Filter struct {
	// Type, when set, selects the letters of that job type; NoType
	// selects those whose type nothing says.
	Type string
	// Error, when set, selects the letters whose error attribute holds it,
	// in any case.
	Error string
	// Group, when set, selects the letters whose error is in that group,
	// as Stats names its groups (Stats.Errors, Row.Error): one row of
	// Stats.Rows is the filter of its Type and Group.
	Group string
}

// Match reports whether f selects l.
func (f Filter) Match(l *Letter) bool {
	if f.Type != "" && cmp.Or(l.Type, NoType) != f.Type {
		return false
	}
	if f.Group != "" && errorGroup(l.Error) != f.Group {
		return false
	}
	return f.Error == "" || strings.Contains(strings.ToLower(l.Error), strings.ToLower(f.Error))
}

// errNotListed is the error of a batch entry that SQS's reply lists neither
// as successful nor as failed.
var errNotListed = errors.New("SQS's reply lists it neither as successful nor as failed")
