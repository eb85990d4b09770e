package consumer

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go/middleware"

	"github.com/busywork/busywork/internal/testenv"
	"github.com/busywork/busywork/jobs"
)

// SQS's 12 hours from the receive cannot be waited out in a test, and the
// emulator does not enforce them: the consumer's clock is moved instead,
// and the test asserts the visibility the consumer asks the emulator for.
func TestConsumer_ALeaseOfTwelveHoursLessAMinuteGivesFullTimeoutsAndCapsALateBackoff(t *testing.T) {
	testenv.Require(t)
	var (
		mu  sync.Mutex
		vis []int32
	)
	client := testenv.SQS(t, func(o *sqs.Options) {
		o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
			return s.Initialize.Add(middleware.InitializeMiddlewareFunc("recordVisibility",
				func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
					if v, ok := in.Parameters.(*sqs.ChangeMessageVisibilityBatchInput); ok {
						mu.Lock()
						for _, e := range v.Entries {
							vis = append(vis, e.VisibilityTimeout)
						}
						mu.Unlock()
					}
					return next.HandleInitialize(ctx, in)
				}), middleware.Before)
		})
	})
	url, _ := testenv.NewQueue(t, client, testenv.QueueOptions{VisibilityTimeout: 30})
	var late atomic.Int64 // added to the consumer's clock
	const left = 30 * time.Second
	deadlines := make(chan time.Duration, 1)
	mux := NewMux()
	Handle(mux, func(ctx context.Context, j jobs.Ping) error {
		if j.Message == "full" {
			dl, _ := ctx.Deadline()
			deadlines <- time.Until(dl)
			return nil
		}
		// This try has run for almost 12 hours, as far as the consumer's
		// clock says, and fails: its backoff must fit in what is left.
		late.Store(int64(maxVisibility - left))
		return errors.New("boom")
	}, Timeout(time.Hour))
	c, err := New(client, mux, Config{
		Queues:      []QueueConfig{{URL: url, Lease: maxVisibility - time.Minute}},
		BackoffBase: 15 * time.Minute, BackoffMax: time.Hour,
		DrainTimeout: 5 * time.Second,
		Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	c.now = func() time.Time { return time.Now().Add(time.Duration(late.Load())) }
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}()

	send := func(msg string) {
		body, err := jobs.Marshal(jobs.Ping{Message: msg})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := client.SendMessage(t.Context(), &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(string(body))}); err != nil {
			t.Fatal(err)
		}
	}
	send("full")
	select {
	case d := <-deadlines:
		if d < 59*time.Minute {
			t.Fatalf("handler got %s to run, want its full 1 h timeout", d)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the first job did not run")
	}
	send("late")
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		got := append([]int32(nil), vis...)
		mu.Unlock()
		if len(got) > 0 {
			if v := got[len(got)-1]; v <= 0 || time.Duration(v)*time.Second > left {
				t.Fatalf("the late backoff set visibility %d s; want it capped at the %s left of the 12 hours (a 15 min backoff asked)", v, left)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("no visibility change for the late job's backoff")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
