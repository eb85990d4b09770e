package producer

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// fakeSQS is a SendAPI that records what it is asked to send. By default
// it accepts everything; batch (if set) decides a SendMessageBatch reply
// instead, and refuse (if set) fails the test on any call.
type fakeSQS struct {
	t      testing.TB
	refuse bool
	batch  func(ctx context.Context, in *sqs.SendMessageBatchInput) (*sqs.SendMessageBatchOutput, error)
	single func(ctx context.Context, in *sqs.SendMessageInput) (*sqs.SendMessageOutput, error)

	mu          sync.Mutex
	sent        []*sqs.SendMessageInput
	batches     [][]types.SendMessageBatchRequestEntry
	inFlight    int
	maxInFlight int
}

// noNetwork returns a fake that fails the test if it is called at all.
func noNetwork(t testing.TB) *fakeSQS { return &fakeSQS{t: t, refuse: true} }

func (f *fakeSQS) SendMessage(ctx context.Context, in *sqs.SendMessageInput, _ ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	if f.refuse {
		f.t.Errorf("unexpected network call: SendMessage(%s)", aws.ToString(in.MessageBody))
		return nil, context.Canceled
	}
	f.mu.Lock()
	f.sent = append(f.sent, in)
	f.mu.Unlock()
	if f.single != nil {
		return f.single(ctx, in)
	}
	return &sqs.SendMessageOutput{MessageId: aws.String("m")}, nil
}

func (f *fakeSQS) SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	if f.refuse {
		f.t.Errorf("unexpected network call: SendMessageBatch of %d entries", len(in.Entries))
		return nil, context.Canceled
	}
	f.mu.Lock()
	f.batches = append(f.batches, in.Entries)
	f.inFlight++
	f.maxInFlight = max(f.maxInFlight, f.inFlight)
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.inFlight--
		f.mu.Unlock()
	}()
	if f.batch != nil {
		return f.batch(ctx, in)
	}
	return acceptAll(in), nil
}

// acceptAll is the reply of an SQS that accepts every entry of in.
func acceptAll(in *sqs.SendMessageBatchInput) *sqs.SendMessageBatchOutput {
	out := &sqs.SendMessageBatchOutput{}
	for _, e := range in.Entries {
		out.Successful = append(out.Successful, types.SendMessageBatchResultEntry{Id: e.Id, MessageId: aws.String("m-" + *e.Id)})
	}
	return out
}

// batchSizes returns the number of entries of each SendMessageBatch call,
// in call order.
func (f *fakeSQS) batchSizes() []int {
	f.mu.Lock()
	defer f.mu.Unlock()
	var n []int
	for _, b := range f.batches {
		n = append(n, len(b))
	}
	return n
}

// entries returns every batch entry sent, keyed by its job_id attribute.
func (f *fakeSQS) entries() map[string]types.SendMessageBatchRequestEntry {
	f.mu.Lock()
	defer f.mu.Unlock()
	m := map[string]types.SendMessageBatchRequestEntry{}
	for _, b := range f.batches {
		for _, e := range b {
			m[aws.ToString(e.MessageAttributes["job_id"].StringValue)] = e
		}
	}
	return m
}

// welcome and ticket are job types of the tests' own, as a service
// declares them: a user's welcome email, and one ticket of an order.
type welcome struct {
	UserID string `json:"user_id"`
}

func (welcome) Type() string { return "welcome_email" }

// Validate refuses a user id that is not 1 to 63 lower-case letters,
// digits and '-'.
func (j welcome) Validate() error {
	switch {
	case j.UserID == "":
		return errors.New("user_id: missing")
	case len(j.UserID) > 63 || strings.ContainsFunc(j.UserID, func(r rune) bool {
		return !(r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z')
	}):
		return fmt.Errorf("user_id: %q is not 1 to 63 lower-case letters, digits and '-'", j.UserID)
	}
	return nil
}

type ticket struct {
	OrderID string `json:"order_id"`
	Number  int    `json:"ticket_number"`
	Total   int    `json:"total"`
}

func (ticket) Type() string { return "ticket" }

// Validate reports every problem: a missing order id, and a number not
// between 1 and Total.
func (j ticket) Validate() error {
	var errs []error
	if j.OrderID == "" {
		errs = append(errs, errors.New("order_id: missing"))
	}
	if j.Number < 1 || j.Number > j.Total {
		errs = append(errs, fmt.Errorf("ticket_number: %d is not between 1 and total (%d)", j.Number, j.Total))
	}
	return errors.Join(errs...)
}

// blob is a job of any size, for size tests. Its body is
// {"type":"blob","data":"..."}: 25 bytes plus len(Data).
type blob struct {
	Data string `json:"data"`
}

func (blob) Type() string    { return "blob" }
func (blob) Validate() error { return nil }

// blobOfBody returns a blob whose body is exactly n bytes.
func blobOfBody(n int) blob {
	return blob{Data: strings.Repeat("x", n-len(`{"type":"blob","data":""}`))}
}

// list is a job whose fields do not encode to a JSON object.
type list []int

func (list) Type() string    { return "list" }
func (list) Validate() error { return nil }
