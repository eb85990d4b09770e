package bootstrap_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/busywork/busywork/internal/bootstrap"
	"github.com/busywork/busywork/internal/testenv"
)

// setup returns clients for the emulators and a Config with unique names,
// whose queues and table are deleted when the test ends.
func setup(t *testing.T) (bootstrap.Clients, bootstrap.Config, *sqs.Client) {
	t.Helper()
	testenv.Require(t)
	sqsClient, ddb := testenv.SQS(t), testenv.DynamoDB(t)
	cfg := bootstrap.Config{
		Lanes:  []bootstrap.Lane{{Name: testenv.UniqueName(t, "bw-", 80-len(bootstrap.DeadLetterSuffix))}},
		Table:  testenv.UniqueName(t, "bw-", 255),
		Sender: "no-reply@example.com",
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for _, name := range []string{cfg.Lanes[0].Name, cfg.Lanes[0].DeadLetterName()} {
			out, err := sqsClient.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(name)})
			if err == nil {
				_, err = sqsClient.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: out.QueueUrl})
			}
			var gone *sqstypes.QueueDoesNotExist
			if err != nil && !errors.As(err, &gone) {
				t.Errorf("delete queue %s: %v", name, err)
			}
		}
		_, err := ddb.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(cfg.Table)})
		var gone *ddbtypes.ResourceNotFoundException
		if err != nil && !errors.As(err, &gone) {
			t.Errorf("delete table %s: %v", cfg.Table, err)
		}
	})
	return bootstrap.Clients{SQS: sqsClient, DynamoDB: ddb, SES: testenv.SESv2(t)}, cfg, sqsClient
}

func statuses(r bootstrap.Report) map[string]bootstrap.Status {
	m := make(map[string]bootstrap.Status, len(r))
	for _, s := range r {
		m[s.Resource] = s.Status
	}
	return m
}

func TestRun_CreatesEverythingThenFindsItAlreadyThere(t *testing.T) {
	clients, cfg, sqsClient := setup(t)
	ctx := t.Context()
	lane := cfg.Lanes[0]

	first, err := bootstrap.Run(ctx, clients, cfg)
	if err != nil {
		t.Fatalf("first run: %v\n%s", err, first)
	}
	want := map[string]bootstrap.Status{
		"queue " + lane.DeadLetterName():        bootstrap.Created,
		"queue " + lane.Name:                    bootstrap.Created,
		"table " + cfg.Table:                    bootstrap.Created,
		"time to live on " + cfg.Table + ".ttl": bootstrap.Created,
		"sender no-reply@example.com":           bootstrap.Skipped,
	}
	if got := statuses(first); !equal(got, want) {
		t.Fatalf("first run:\n%s want %v", first, want)
	}
	if first[len(first)-1].Detail != bootstrap.SkippedNoIdentities {
		t.Errorf("sender step = %q, want the reason %q", first[len(first)-1], bootstrap.SkippedNoIdentities)
	}

	second, err := bootstrap.Run(ctx, clients, cfg)
	if err != nil {
		t.Fatalf("second run: %v\n%s", err, second)
	}
	for res := range want {
		if res != "sender no-reply@example.com" {
			want[res] = bootstrap.Exists
		}
	}
	if got := statuses(second); !equal(got, want) || second.Changed() {
		t.Fatalf("second run changed something:\n%s want %v", second, want)
	}

	attrs := queueAttributes(t, sqsClient, lane.Name)
	if attrs["VisibilityTimeout"] != "30" {
		t.Errorf("VisibilityTimeout = %q, want 30", attrs["VisibilityTimeout"])
	}
	dlqAttrs := queueAttributes(t, sqsClient, lane.DeadLetterName())
	// SQS counts a dead letter's age from its first enqueue: the DLQ must
	// keep messages longer than the queue, or failures expire on arrival.
	if dlqAttrs["MessageRetentionPeriod"] != strconv.Itoa(14*24*3600) || attrs["MessageRetentionPeriod"] != strconv.Itoa(4*24*3600) {
		t.Errorf("MessageRetentionPeriod: DLQ %q, queue %q; want 14 days and 4", dlqAttrs["MessageRetentionPeriod"], attrs["MessageRetentionPeriod"])
	}
	if got := maxReceiveCount(t, attrs["RedrivePolicy"]); got != bootstrap.DefaultMaxReceiveCount {
		t.Errorf("maxReceiveCount = %d, want %d", got, bootstrap.DefaultMaxReceiveCount)
	}
	var policy struct{ DeadLetterTargetArn string }
	if err := json.Unmarshal([]byte(attrs["RedrivePolicy"]), &policy); err != nil || policy.DeadLetterTargetArn != dlqAttrs["QueueArn"] {
		t.Errorf("RedrivePolicy %s does not target the DLQ %s (%v)", attrs["RedrivePolicy"], dlqAttrs["QueueArn"], err)
	}
}

func TestRun_ConvergesAQueueWhoseMaxReceiveCountChanged(t *testing.T) {
	clients, cfg, sqsClient := setup(t)
	ctx := t.Context()
	cfg.Lanes[0].MaxReceiveCount = 3
	if r, err := bootstrap.Run(ctx, clients, cfg); err != nil {
		t.Fatalf("first run: %v\n%s", err, r)
	}

	cfg.Lanes[0].MaxReceiveCount = 7
	cfg.Lanes[0].VisibilityTimeout = 45 * time.Second
	r, err := bootstrap.Run(ctx, clients, cfg)
	if err != nil {
		t.Fatalf("second run: %v\n%s", err, r)
	}
	step := r[1]
	if step.Resource != "queue "+cfg.Lanes[0].Name || step.Status != bootstrap.Updated ||
		step.Detail != "maxReceiveCount 3 -> 7, VisibilityTimeout 30 -> 45" {
		t.Fatalf("queue step = %q, want updated: maxReceiveCount 3 -> 7, VisibilityTimeout 30 -> 45\n%s", step, r)
	}
	attrs := queueAttributes(t, sqsClient, cfg.Lanes[0].Name)
	if got := maxReceiveCount(t, attrs["RedrivePolicy"]); got != 7 || attrs["VisibilityTimeout"] != "45" {
		t.Fatalf("after converging: maxReceiveCount %d, VisibilityTimeout %s; want 7, 45", got, attrs["VisibilityTimeout"])
	}

	third, err := bootstrap.Run(ctx, clients, cfg)
	if err != nil || third.Changed() {
		t.Fatalf("third run changed something (%v):\n%s", err, third)
	}
}

func TestRun_ShortensAQueueRetentionThatWouldOutlastItsDLQ(t *testing.T) {
	clients, cfg, sqsClient := setup(t)
	lane := cfg.Lanes[0]
	// Made by hand to keep messages as long as its DLQ: dead letters would
	// expire on arrival.
	if _, err := sqsClient.CreateQueue(t.Context(), &sqs.CreateQueueInput{
		QueueName: aws.String(lane.Name), Attributes: map[string]string{"MessageRetentionPeriod": strconv.Itoa(14 * 24 * 3600)},
	}); err != nil {
		t.Fatal(err)
	}
	r, err := bootstrap.Run(t.Context(), clients, cfg)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, r)
	}
	if step := r[1]; step.Status != bootstrap.Updated || !strings.HasPrefix(step.Detail, "MessageRetentionPeriod 1209600 -> 345600, ") {
		t.Errorf("queue step = %q, want the retention updated to 4 days", step)
	}
	if got := queueAttributes(t, sqsClient, lane.Name)["MessageRetentionPeriod"]; got != "345600" {
		t.Errorf("MessageRetentionPeriod = %s, want 345600", got)
	}
}

// raceCreateQueue returns an SDK option that plays another bootstrap
// winning the race for queue name: just before this client's CreateQueue
// for it goes out, rival creates it with attrs. The emulator then answers
// this client's CreateQueue with QueueNameExists, which *createErr
// receives.
func raceCreateQueue(rival *sqs.Client, name string, attrs map[string]string, createErr *error) func(*sqs.Options) {
	return func(o *sqs.Options) {
		o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
			return s.Initialize.Add(middleware.InitializeMiddlewareFunc("raceCreateQueue",
				func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
					params, ok := in.Parameters.(*sqs.CreateQueueInput)
					if !ok || aws.ToString(params.QueueName) != name {
						return next.HandleInitialize(ctx, in)
					}
					if _, err := rival.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: params.QueueName, Attributes: attrs}); err != nil {
						return middleware.InitializeOutput{}, middleware.Metadata{}, fmt.Errorf("the rival's CreateQueue: %w", err)
					}
					out, md, err := next.HandleInitialize(ctx, in)
					*createErr = err
					return out, md, err
				}), middleware.Before)
		})
	}
}

func TestRun_ConvergesAQueueAnotherBootstrapCreatedMeanwhile(t *testing.T) {
	clients, cfg, sqsClient := setup(t)
	lane := cfg.Lanes[0]
	// The rival creates the queue between our lookup (not found) and our
	// CreateQueue, with another visibility timeout and no redrive policy.
	var createErr error
	clients.SQS = testenv.SQS(t, raceCreateQueue(sqsClient, lane.Name, map[string]string{"VisibilityTimeout": "60"}, &createErr))

	r, err := bootstrap.Run(t.Context(), clients, cfg)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, r)
	}
	if taken := (*sqstypes.QueueNameExists)(nil); !errors.As(createErr, &taken) {
		t.Fatalf("our CreateQueue = %v, want QueueNameExists: the race did not happen", createErr)
	}
	step := r[1]
	if step.Resource != "queue "+lane.Name || step.Status != bootstrap.Updated ||
		!strings.HasPrefix(step.Detail, "RedrivePolicy (none) -> ") || !strings.HasSuffix(step.Detail, ", VisibilityTimeout 60 -> 30") {
		t.Fatalf("queue step = %q, want updated: RedrivePolicy (none) -> ..., VisibilityTimeout 60 -> 30\n%s", step, r)
	}
	attrs := queueAttributes(t, sqsClient, lane.Name)
	dlqARN := queueAttributes(t, sqsClient, lane.DeadLetterName())["QueueArn"]
	var policy struct{ DeadLetterTargetArn string }
	if err := json.Unmarshal([]byte(attrs["RedrivePolicy"]), &policy); err != nil || policy.DeadLetterTargetArn != dlqARN ||
		maxReceiveCount(t, attrs["RedrivePolicy"]) != bootstrap.DefaultMaxReceiveCount || attrs["VisibilityTimeout"] != "30" {
		t.Fatalf("after converging: VisibilityTimeout %s, RedrivePolicy %s; want 30 and %d receives to %s",
			attrs["VisibilityTimeout"], attrs["RedrivePolicy"], bootstrap.DefaultMaxReceiveCount, dlqARN)
	}
}

func equal(a, b map[string]bootstrap.Status) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func queueAttributes(t *testing.T, client *sqs.Client, name string) map[string]string {
	t.Helper()
	out, err := client.GetQueueUrl(t.Context(), &sqs.GetQueueUrlInput{QueueName: aws.String(name)})
	if err != nil {
		t.Fatalf("queue %s: %v", name, err)
	}
	attrs, err := client.GetQueueAttributes(t.Context(), &sqs.GetQueueAttributesInput{
		QueueUrl: out.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameAll},
	})
	if err != nil {
		t.Fatalf("queue %s: %v", name, err)
	}
	return attrs.Attributes
}

// maxReceiveCount reads a RedrivePolicy's maxReceiveCount, a number on SQS
// and possibly a string on emulators.
func maxReceiveCount(t *testing.T, policy string) int {
	t.Helper()
	var p struct{ MaxReceiveCount json.RawMessage }
	if err := json.Unmarshal([]byte(policy), &p); err != nil {
		t.Fatalf("RedrivePolicy %q: %v", policy, err)
	}
	var n int
	if err := json.Unmarshal(p.MaxReceiveCount, &n); err != nil {
		s, _ := strconv.Unquote(string(p.MaxReceiveCount))
		if n, err = strconv.Atoi(s); err != nil {
			t.Fatalf("RedrivePolicy %q: maxReceiveCount: %v", policy, err)
		}
	}
	return n
}
