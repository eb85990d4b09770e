// Package redrive reads and writes SQS redrive policies, the RedrivePolicy
// attribute that says where a queue's dead letters go and after how many
// receives, and finds a queue by its ARN. The consumer, bootstrap and the
// dlq commands all read policies through it.
package redrive

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// ErrNoPolicy is the error of Parse for an empty attribute: the queue has
// no dead-letter queue.
var ErrNoPolicy = errors.New("no redrive policy")

// Policy is a queue's redrive policy.
type Policy struct {
	// DeadLetterTargetARN is the ARN of the dead-letter queue.
	DeadLetterTargetARN string
	// MaxReceiveCount is how many receives a message gets before SQS
	// moves it to the dead-letter queue.
	MaxReceiveCount int
}

// Parse reads a RedrivePolicy attribute. SQS writes maxReceiveCount as a
// number; some emulators keep the string they were given, so both are
// read. An empty attribute is ErrNoPolicy.
func Parse(s string) (Policy, error) {
	if s == "" {
		return Policy{}, ErrNoPolicy
	}
	var p struct {
		Target string          `json:"deadLetterTargetArn"`
		Max    json.RawMessage `json:"maxReceiveCount"`
	}
	if err := json.Unmarshal([]byte(s), &p); err != nil {
		return Policy{}, fmt.Errorf("redrive policy %q: %w", s, err)
	}
	n, err := strconv.Atoi(strings.Trim(string(p.Max), `"`))
	if err != nil || n < 1 {
		return Policy{}, fmt.Errorf("redrive policy %q: maxReceiveCount is not a positive whole number", s)
	}
	if _, _, err := ParseQueueARN(p.Target); err != nil {
		return Policy{}, fmt.Errorf("redrive policy %q: %w", s, err)
	}
	return Policy{DeadLetterTargetARN: p.Target, MaxReceiveCount: n}, nil
}

// String returns the policy as the RedrivePolicy attribute's JSON, with
// maxReceiveCount a number as SQS writes it.
func (p Policy) String() string {
	b, _ := json.Marshal(struct { // cannot fail: a string and an int
		Target string `json:"deadLetterTargetArn"`
		Max    int    `json:"maxReceiveCount"`
	}{p.DeadLetterTargetARN, p.MaxReceiveCount})
	return string(b)
}

// ParseQueueARN returns the account and name of the queue with the ARN
// arn:aws:sqs:REGION:ACCOUNT:NAME.
func ParseQueueARN(arn string) (account, name string, err error) {
	parts := strings.Split(arn, ":")
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "sqs" || parts[5] == "" {
		return "", "", fmt.Errorf("%q is not an SQS queue ARN", arn)
	}
	return parts[4], parts[5], nil
}

// URLGetter is the part of *sqs.Client that QueueURL calls.
type URLGetter interface {
	GetQueueUrl(ctx context.Context, in *sqs.GetQueueUrlInput, optFns ...func(*sqs.Options)) (*sqs.GetQueueUrlOutput, error)
}

// QueueURL looks up the URL of the queue with the given ARN.
func QueueURL(ctx context.Context, client URLGetter, arn string) (string, error) {
	account, name, err := ParseQueueARN(arn)
	if err != nil {
		return "", err
	}
	out, err := client.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(name), QueueOwnerAWSAccountId: aws.String(account)})
	if err != nil {
		return "", fmt.Errorf("%s: %w", name, err)
	}
	return aws.ToString(out.QueueUrl), nil
}
