package bootstrap

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"
)

func TestRedriveChange_ReadsMaxReceiveCountAsNumberOrString(t *testing.T) {
	const dlq, old = "arn:aws:sqs:us-east-1:000000000000:jobs-dlq", "arn:aws:sqs:us-east-1:000000000000:old-dlq"
	want := `{"deadLetterTargetArn":"` + dlq + `","maxReceiveCount":5}`
	tests := []struct {
		name, have, change string
	}{
		{"same, as SQS returns it", `{"deadLetterTargetArn":"` + dlq + `","maxReceiveCount":5}`, ""},
		{"same, count as a string", `{"maxReceiveCount":"5","deadLetterTargetArn":"` + dlq + `"}`, ""},
		{"other count", `{"deadLetterTargetArn":"` + dlq + `","maxReceiveCount":"3"}`, "maxReceiveCount 3 -> 5"},
		{"other target", `{"deadLetterTargetArn":"` + old + `","maxReceiveCount":5}`, "deadLetterTargetArn " + old + " -> " + dlq},
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
