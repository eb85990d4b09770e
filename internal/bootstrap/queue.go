package bootstrap

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// SQSAPI is the part of *sqs.Client that Run calls.
type SQSAPI interface {
	GetQueueUrl(ctx context.Context, in *sqs.GetQueueUrlInput, optFns ...func(*sqs.Options)) (*sqs.GetQueueUrlOutput, error)
	CreateQueue(ctx context.Context, in *sqs.CreateQueueInput, optFns ...func(*sqs.Options)) (*sqs.CreateQueueOutput, error)
	GetQueueAttributes(ctx context.Context, in *sqs.GetQueueAttributesInput, optFns ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
	SetQueueAttributes(ctx context.Context, in *sqs.SetQueueAttributesInput, optFns ...func(*sqs.Options)) (*sqs.SetQueueAttributesOutput, error)
}

var _ SQSAPI = (*sqs.Client)(nil)

const (
	attrVisibility = string(types.QueueAttributeNameVisibilityTimeout)
	attrRetention  = string(types.QueueAttributeNameMessageRetentionPeriod)
	attrRedrive    = string(types.QueueAttributeNameRedrivePolicy)
	attrARN        = string(types.QueueAttributeNameQueueArn)
)

// ensureLane makes the lane's DLQ, then its queue with a redrive policy
// pointing at the DLQ; the DLQ keeps messages longer than the queue.
func ensureLane(ctx context.Context, client SQSAPI, l Lane) (Report, error) {
	dlqARN, dlqStep, err := ensureQueue(ctx, client, l.DeadLetterName(), map[string]string{
		attrRetention: seconds(DeadLetterRetention),
	})
	if err != nil {
		return nil, err
	}
	policy, err := json.Marshal(redrivePolicy{DeadLetterTargetARN: dlqARN, MaxReceiveCount: l.MaxReceiveCount})
	if err != nil {
		return Report{dlqStep}, fmt.Errorf("bootstrap: queue %s: redrive policy: %w", l.Name, err)
	}
	_, step, err := ensureQueue(ctx, client, l.Name, map[string]string{
		attrVisibility: seconds(l.VisibilityTimeout),
		attrRetention:  seconds(QueueRetention),
		attrRedrive:    string(policy),
	})
	if err != nil {
		return Report{dlqStep}, err
	}
	if step.Status == Created {
		step.Detail = fmt.Sprintf("dead letters go to %s after %d receives", l.DeadLetterName(), l.MaxReceiveCount)
	}
	return Report{dlqStep, step}, nil
}

// ensureQueue creates the queue name with the attributes want, or brings
// an existing queue's attributes to want. It returns the queue's ARN.
func ensureQueue(ctx context.Context, client SQSAPI, name string, want map[string]string) (arn string, step Step, err error) {
	step = Step{Resource: "queue " + name, Status: Exists}
	fail := func(op string, err error) (string, Step, error) {
		return "", step, fmt.Errorf("bootstrap: queue %s: %s: %w", name, op, err)
	}
	url, err := queueURL(ctx, client, name)
	var missing *types.QueueDoesNotExist
	if errors.As(err, &missing) {
		out, cerr := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: want})
		var taken *types.QueueNameExists
		switch {
		case cerr == nil:
			step.Status, url, err = Created, aws.ToString(out.QueueUrl), nil
		case errors.As(cerr, &taken):
			// Created meanwhile, with other attributes: converge it below.
			url, err = queueURL(ctx, client, name)
		default:
			return fail("create", cerr)
		}
	}
	if err != nil {
		return fail("look up", err)
	}

	out, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl:       aws.String(url),
		AttributeNames: queueAttributeNames(slices.Concat(slices.Sorted(maps.Keys(want)), []string{attrARN})),
	})
	if err != nil {
		return fail("read attributes", err)
	}
	arn = out.Attributes[attrARN]
	if arn == "" {
		return fail("read attributes", errors.New("no QueueArn"))
	}
	if step.Status == Created {
		return arn, step, nil
	}
	diff, changes := attributeDiff(out.Attributes, want)
	if len(diff) == 0 {
		return arn, step, nil
	}
	if _, err := client.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: aws.String(url), Attributes: diff}); err != nil {
		return fail("set attributes", err)
	}
	step.Status, step.Detail = Updated, strings.Join(changes, ", ")
	return arn, step, nil
}

func queueURL(ctx context.Context, client SQSAPI, name string) (string, error) {
	out, err := client.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(name)})
	if err != nil {
		return "", err
	}
	return aws.ToString(out.QueueUrl), nil
}

func queueAttributeNames(names []string) []types.QueueAttributeName {
	out := make([]types.QueueAttributeName, len(names))
	for i, n := range names {
		out[i] = types.QueueAttributeName(n)
	}
	return out
}

// attributeDiff returns the attributes of want that have differs from,
// and a description of each change ("VisibilityTimeout 60 -> 30").
func attributeDiff(have, want map[string]string) (diff map[string]string, changes []string) {
	diff = make(map[string]string)
	for _, name := range slices.Sorted(maps.Keys(want)) {
		old, w := have[name], want[name]
		if name == attrRedrive {
			if c := redriveChange(old, w); c != "" {
				diff[name] = w
				changes = append(changes, c)
			}
			continue
		}
		if old != w {
			diff[name] = w
			changes = append(changes, fmt.Sprintf("%s %s -> %s", name, orNone(old), w))
		}
	}
	return diff, changes
}

// redrivePolicy is a queue's RedrivePolicy attribute. SQS returns
// maxReceiveCount as a number; some emulators return it verbatim, so a
// string is read too.
type redrivePolicy struct {
	DeadLetterTargetARN string          `json:"deadLetterTargetArn"`
	MaxReceiveCount     int             `json:"-"`
	RawMaxReceiveCount  json.RawMessage `json:"maxReceiveCount,omitempty"`
}

// MarshalJSON writes maxReceiveCount as a number.
func (p redrivePolicy) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		DeadLetterTargetARN string `json:"deadLetterTargetArn"`
		MaxReceiveCount     int    `json:"maxReceiveCount"`
	}{p.DeadLetterTargetARN, p.MaxReceiveCount})
}

// parseRedrivePolicy reads a RedrivePolicy attribute; "" is no policy.
func parseRedrivePolicy(s string) (redrivePolicy, error) {
	var p redrivePolicy
	if s == "" {
		return p, nil
	}
	if err := json.Unmarshal([]byte(s), &p); err != nil {
		return p, err
	}
	raw := strings.Trim(string(p.RawMaxReceiveCount), `"`)
	n, err := strconv.Atoi(raw)
	if err != nil {
		return p, fmt.Errorf("maxReceiveCount %s: %w", p.RawMaxReceiveCount, err)
	}
	p.MaxReceiveCount = n
	return p, nil
}

// redriveChange describes how policy want differs from have, or returns ""
// when they mean the same.
func redriveChange(have, want string) string {
	w, err := parseRedrivePolicy(want)
	if err != nil {
		return "RedrivePolicy -> " + want
	}
	h, err := parseRedrivePolicy(have)
	if err != nil || have == "" {
		return fmt.Sprintf("RedrivePolicy %s -> %s", orNone(have), want)
	}
	var changes []string
	if h.DeadLetterTargetARN != w.DeadLetterTargetARN {
		changes = append(changes, fmt.Sprintf("deadLetterTargetArn %s -> %s", h.DeadLetterTargetARN, w.DeadLetterTargetARN))
	}
	if h.MaxReceiveCount != w.MaxReceiveCount {
		changes = append(changes, fmt.Sprintf("maxReceiveCount %d -> %d", h.MaxReceiveCount, w.MaxReceiveCount))
	}
	return strings.Join(changes, ", ")
}

func seconds(d time.Duration) string { return strconv.Itoa(int(d / time.Second)) }

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
