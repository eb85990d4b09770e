package awsclient_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/busywork/busywork/awsclient"
	"github.com/busywork/busywork/internal/testenv"
)

func TestInteractive_RetriesThrottlingAndTimedOutAttemptsWithoutAQuota(t *testing.T) {
	r := awsclient.Interactive(aws.Config{}).Retryer()
	if got := r.MaxAttempts(); got != awsclient.InteractiveMaxAttempts {
		t.Errorf("MaxAttempts() = %d, want %d", got, awsclient.InteractiveMaxAttempts)
	}
	httpErr := func(code int) error {
		return &smithyhttp.ResponseError{Response: &smithyhttp.Response{Response: &http.Response{StatusCode: code}}, Err: errors.New("injected")}
	}
	cancelled := &smithy.CanceledError{Err: context.DeadlineExceeded}
	timedOut := &awsclient.AttemptTimeoutError{Limit: awsclient.InteractiveAttemptTimeout, Err: cancelled}
	tests := []struct {
		name      string
		err       error
		retryable bool
	}{
		{"SQS throttling", &smithy.GenericAPIError{Code: "RequestThrottled"}, true},
		{"throttling", &smithy.GenericAPIError{Code: "ThrottlingException"}, true},
		{"DynamoDB throttling", &smithy.GenericAPIError{Code: "ProvisionedThroughputExceededException"}, true},
		{"500", httpErr(http.StatusInternalServerError), true},
		{"503", httpErr(http.StatusServiceUnavailable), true},
		{"connection error", &smithyhttp.RequestSendError{Err: errors.New("connection reset by peer")}, true},
		{"an attempt cut off by its timeout", timedOut, true},
		{"the caller's context ended", cancelled, false},
		{"a bad request", &smithy.GenericAPIError{Code: "InvalidParameterValue", Fault: smithy.FaultClient}, false},
	}
	for _, tt := range tests {
		if got := r.IsErrorRetryable(tt.err); got != tt.retryable {
			t.Errorf("%s: IsErrorRetryable(%v) = %v, want %v", tt.name, tt.err, got, tt.retryable)
		}
	}

	// The standard retryer's bucket (500 tokens, 10 per timed-out retry)
	// would refuse the 51st; no quota refuses any.
	v2, ok := r.(aws.RetryerV2)
	if !ok {
		t.Fatalf("the retryer %T is no aws.RetryerV2", r)
	}
	for i := range 1000 {
		if _, err := v2.GetRetryToken(t.Context(), timedOut); err != nil {
			t.Fatalf("retry %d after a timed-out attempt refused: %v", i+1, err)
		}
	}

	for attempt := 1; attempt <= awsclient.InteractiveMaxAttempts; attempt++ {
		for range 100 {
			d, err := r.RetryDelay(attempt, timedOut)
			if err != nil || d < awsclient.InteractiveMaxBackoff/2 || d >= awsclient.InteractiveMaxBackoff {
				t.Fatalf("RetryDelay(%d) = %v, %v; want between %v and %v", attempt, d, err, awsclient.InteractiveMaxBackoff/2, awsclient.InteractiveMaxBackoff)
			}
		}
	}
}

func TestInteractive_IgnoresTheStandardRetrySettings(t *testing.T) {
	isolate(t)
	t.Setenv("AWS_MAX_ATTEMPTS", "10")
	t.Setenv("AWS_RETRY_MODE", "adaptive")
	cfg, err := awsclient.Load(t.Context(), config.WithRegion("eu-west-1"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.RetryMaxAttempts != 10 || cfg.RetryMode != aws.RetryModeAdaptive {
		t.Fatalf("loaded RetryMaxAttempts %d, RetryMode %q: the settings were not read", cfg.RetryMaxAttempts, cfg.RetryMode)
	}
	o := sqs.NewFromConfig(awsclient.Interactive(cfg)).Options()
	if got := o.Retryer.MaxAttempts(); got != awsclient.InteractiveMaxAttempts {
		t.Errorf("MaxAttempts() = %d, want %d", got, awsclient.InteractiveMaxAttempts)
	}
}

// The first attempt of each call below hangs in a proxy in front of the
// SQS emulator (held 5 s, and never forwarded if the client gives up).
func TestInteractive_RetriesAHungAttemptWithinTheCallersDeadline(t *testing.T) {
	cfg := testenv.AWSConfig(t)
	queueURL, _ := testenv.NewQueue(t, testenv.SQS(t), testenv.QueueOptions{NoDLQ: true})
	proxy := testenv.NewDelayProxy(t, os.Getenv(testenv.EnvSQS))
	client := sqs.NewFromConfig(awsclient.Interactive(cfg), func(o *sqs.Options) { o.BaseEndpoint = aws.String(proxy.URL) })
	send := func(timeout time.Duration) error {
		ctx, cancel := context.WithTimeout(t.Context(), timeout)
		defer cancel()
		_, err := client.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(queueURL), MessageBody: aws.String("{}")})
		return err
	}

	proxy.Set(testenv.Delay{Before: 5 * time.Second, Count: 1})
	if err := send(time.Second); err != nil {
		t.Fatalf("SendMessage under a 1 s deadline, first attempt hung: %v, want success on a retry", err)
	}
	if n := proxy.Requests(); n != 2 {
		t.Errorf("%d attempts reached SQS, want 2 (the hung one and its retry)", n)
	}

	// A caller's deadline shorter than an attempt ends the call: no retry,
	// and its error says the context ended, not that an attempt timed out.
	proxy.Set(testenv.Delay{Before: 5 * time.Second, Count: 1})
	err := send(awsclient.InteractiveAttemptTimeout / 2)
	var timedOut *awsclient.AttemptTimeoutError
	if !errors.Is(err, context.DeadlineExceeded) || errors.As(err, &timedOut) {
		t.Errorf("SendMessage past the caller's deadline: %v, want the context's deadline and no attempt timeout", err)
	}
	if n := proxy.Requests(); n != 3 {
		t.Errorf("%d attempts reached SQS in all, want 3 (none after the caller's deadline)", n)
	}
}
