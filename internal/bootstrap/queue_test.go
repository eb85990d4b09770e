package bootstrap

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

func TestRedriveChange_ReadsMaxReceiveCountAsNumberOrString(t *testing.T) {
	want := `{"deadLetterTargetArn":"arn:dlq","maxReceiveCount":5}`
	tests := []struct {
		name, have, change string
	}{
		{"same, as SQS returns it", `{"deadLetterTargetArn":"arn:dlq","maxReceiveCount":5}`, ""},
		{"same, count as a string", `{"maxReceiveCount":"5","deadLetterTargetArn":"arn:dlq"}`, ""},
		{"other count", `{"deadLetterTargetArn":"arn:dlq","maxReceiveCount":"3"}`, "maxReceiveCount 3 -> 5"},
		{"other target", `{"deadLetterTargetArn":"arn:old","maxReceiveCount":5}`, "deadLetterTargetArn arn:old -> arn:dlq"},
		{"no policy", ``, "RedrivePolicy (none) -> " + want},
		{"unreadable policy", `{`, "RedrivePolicy { -> " + want},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := redriveChange(tt.have, want); got != tt.change {
				t.Fatalf("redriveChange = %q, want %q", got, tt.change)
			}
		})
	}
}

// racingSQS is a queue that another bootstrap creates, with other
// attributes, between our GetQueueUrl and CreateQueue.
type racingSQS struct {
	exists bool
	attrs  map[string]string
	set    map[string]string
}

func (f *racingSQS) GetQueueUrl(_ context.Context, in *sqs.GetQueueUrlInput, _ ...func(*sqs.Options)) (*sqs.GetQueueUrlOutput, error) {
	if !f.exists {
		f.exists = true // the other bootstrap wins the race
		return nil, &types.QueueDoesNotExist{Message: aws.String("no queue")}
	}
	return &sqs.GetQueueUrlOutput{QueueUrl: aws.String("http://sqs/" + aws.ToString(in.QueueName))}, nil
}

func (f *racingSQS) CreateQueue(context.Context, *sqs.CreateQueueInput, ...func(*sqs.Options)) (*sqs.CreateQueueOutput, error) {
	return nil, &types.QueueNameExists{Message: aws.String("other attributes")}
}

func (f *racingSQS) GetQueueAttributes(context.Context, *sqs.GetQueueAttributesInput, ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error) {
	return &sqs.GetQueueAttributesOutput{Attributes: f.attrs}, nil
}

func (f *racingSQS) SetQueueAttributes(_ context.Context, in *sqs.SetQueueAttributesInput, _ ...func(*sqs.Options)) (*sqs.SetQueueAttributesOutput, error) {
	f.set = in.Attributes
	return &sqs.SetQueueAttributesOutput{}, nil
}

func TestEnsureQueue_ConvergesAQueueCreatedMeanwhileWithOtherAttributes(t *testing.T) {
	f := &racingSQS{attrs: map[string]string{attrARN: "arn:q", attrVisibility: "60"}}
	arn, step, err := ensureQueue(t.Context(), f, "q", map[string]string{attrVisibility: "30"})
	if err != nil {
		t.Fatal(err)
	}
	if arn != "arn:q" || step.Status != Updated || step.Detail != "VisibilityTimeout 60 -> 30" {
		t.Fatalf("ensureQueue = %q, %q", arn, step)
	}
	if f.set[attrVisibility] != "30" || len(f.set) != 1 {
		t.Fatalf("SetQueueAttributes got %v, want only VisibilityTimeout 30", f.set)
	}
}

type fakeSES struct{ err error }

func (f fakeSES) CreateEmailIdentity(context.Context, *sesv2.CreateEmailIdentityInput, ...func(*sesv2.Options)) (*sesv2.CreateEmailIdentityOutput, error) {
	return &sesv2.CreateEmailIdentityOutput{}, f.err
}

func TestEnsureSender(t *testing.T) {
	boom := errors.New("throttled")
	tests := []struct {
		name    string
		err     error
		want    Status
		wantErr error
	}{
		{"created", nil, Created, nil},
		{"already there", &sestypes.AlreadyExistsException{Message: aws.String("exists")}, Exists, nil},
		{"other failure", boom, Created, boom},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			step, err := ensureSender(t.Context(), fakeSES{tt.err}, "a@example.com")
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && step.Status != tt.want) {
				t.Fatalf("ensureSender = %q, %v; want %s, %v", step, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestConfig_DefaultsAndRanges(t *testing.T) {
	c, err := Config{}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	want := Lane{Name: DefaultQueue, MaxReceiveCount: DefaultMaxReceiveCount, VisibilityTimeout: DefaultVisibilityTimeout}
	if len(c.Lanes) != 1 || c.Lanes[0] != want || c.Table != DefaultTable || c.Sender != DefaultSender {
		t.Fatalf("defaults = %+v", c)
	}
	for _, bad := range []Lane{{}, {Name: "q", MaxReceiveCount: 1001}, {Name: "q", VisibilityTimeout: 1500 * time.Millisecond}} {
		if _, err := (Config{Lanes: []Lane{bad}}).withDefaults(); err == nil {
			t.Errorf("lane %+v accepted", bad)
		}
	}
}
