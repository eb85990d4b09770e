package consumer

import (
	"context"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go/middleware"

	"github.com/busywork/busywork/internal/testenv"
	"github.com/busywork/busywork/jobs"
)

// A beat lists the tracked messages, then looks at each under its lock. A
// message settled by a visibility change in between (a backoff, a
// release) must not be extended: the extension would overwrite the change.
func TestHeartbeat_NeverExtendsAMessageSettledSinceItWasListed(t *testing.T) {
	testenv.Require(t)
	var extensions atomic.Int32
	client := testenv.SQS(t, func(o *sqs.Options) {
		o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
			return s.Initialize.Add(middleware.InitializeMiddlewareFunc("countExtensions",
				func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
					if _, ok := in.Parameters.(*sqs.ChangeMessageVisibilityBatchInput); ok {
						extensions.Add(1)
					}
					return next.HandleInitialize(ctx, in)
				}), middleware.Before)
		})
	})
	url, _ := testenv.NewQueue(t, client, testenv.QueueOptions{VisibilityTimeout: 30})
	if _, err := client.SendMessage(t.Context(), &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(`{"type":"ping"}`)}); err != nil {
		t.Fatal(err)
	}
	mux := NewMux()
	Handle(mux, func(context.Context, jobs.Ping) error { return nil })
	c, err := New(client, mux, Config{Queues: []QueueConfig{{URL: url}}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	l, err := c.newLane(t.Context(), t.Context(), c.cfg.Queues[0])
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := l.receive(t.Context(), 1)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("receive: %d messages, %v", len(msgs), err)
	}
	now := time.Now()
	due := l.track(msgs[0], now, now)
	soon := now.Add(time.Second) // less than half the first lease left: due for renewal
	due.expires = soon
	settled := l.track(msgs[0], now, now)
	settled.expires = soon
	settled.state = stateChanging // settled after the beat listed it

	l.beat.beat(now)
	l.beat.wg.Wait()
	if n := extensions.Load(); n != 1 {
		t.Fatalf("%d extension calls, want 1: the due message's alone", n)
	}
	if !settled.expires.Equal(soon) || !due.expires.After(soon) {
		t.Errorf("after the beat: settled message expires %s, due one %s", settled.expires, due.expires)
	}
}
