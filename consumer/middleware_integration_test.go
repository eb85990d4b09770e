package consumer_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/busywork/busywork/consumer"
	"github.com/busywork/busywork/internal/testenv"
	"github.com/busywork/busywork/jobs"
)

// trace is a middleware that records its name around the handler.
func trace(name string, mu *sync.Mutex, log *[]string) consumer.Middleware {
	return func(next consumer.Handler) consumer.Handler {
		return func(ctx context.Context, job jobs.Job) error {
			mu.Lock()
			*log = append(*log, name+">")
			mu.Unlock()
			err := next(ctx, job)
			mu.Lock()
			*log = append(*log, "<"+name)
			mu.Unlock()
			return err
		}
	}
}

// Mux middleware wraps every type, outermost first in the order added,
// around the type's own, which wrap the handler; the job reaches the
// handler typed, under the consumer's deadline.
func TestConsumer_MiddlewareWrapsHandlersInTheDocumentedOrder(t *testing.T) {
	testenv.Require(t)
	client := testenv.SQS(t)
	url, _ := testenv.NewQueue(t, client, testenv.QueueOptions{VisibilityTimeout: 30})
	var (
		mu  sync.Mutex
		log []string
	)
	done := make(chan time.Duration, 1)
	mux := consumer.NewMux()
	consumer.Handle(mux, func(ctx context.Context, j jobs.Ping) error {
		mu.Lock()
		log = append(log, "handler:"+j.Message)
		mu.Unlock()
		dl, _ := ctx.Deadline()
		done <- time.Until(dl)
		return nil
	}, consumer.Timeout(7*time.Second), consumer.With(trace("c", &mu, &log), trace("d", &mu, &log)))
	mux.Use(trace("a", &mu, &log))
	mux.Use(trace("b", &mu, &log))
	enqueue(t, client, url, jobs.Ping{Message: "hi"})
	r := start(t, client, mux, consumer.Config{Queues: []consumer.QueueConfig{{URL: url}}})
	left := <-done
	r.stop(t)
	want := "a> b> c> d> handler:hi <d <c <b <a"
	if got := strings.Join(log, " "); got != want {
		t.Errorf("order %q, want %q", got, want)
	}
	if left < 6*time.Second || left > 7*time.Second {
		t.Errorf("the handler had %s to its deadline, want the 7 s timeout set outside the middleware", left)
	}
}

// A middleware's error and panic are handled as a handler's: Permanent
// dead-letters the job with its reason, a panic retries it.
func TestConsumer_AMiddlewaresErrorOrPanicIsHandledAsTheHandlers(t *testing.T) {
	testenv.Require(t)
	client := testenv.SQS(t)
	url, dlq := testenv.NewQueue(t, client, testenv.QueueOptions{VisibilityTimeout: 30})
	ran := newTally()
	mux := consumer.NewMux()
	consumer.Handle(mux, func(ctx context.Context, j jobs.Ping) error {
		ran.add(j.Message)
		return nil
	})
	var panicked sync.Once
	mux.Use(func(next consumer.Handler) consumer.Handler {
		return func(ctx context.Context, job jobs.Job) error {
			switch job.(jobs.Ping).Message {
			case "refused":
				return consumer.Permanent(errors.New("tenant over its limit"))
			case "panics":
				fired := false
				panicked.Do(func() { fired = true })
				if fired {
					panic("middleware bug")
				}
			}
			return next(ctx, job)
		}
	})
	enqueue(t, client, url, jobs.Ping{Message: "refused"}, jobs.Ping{Message: "panics"})
	start(t, client, mux, consumer.Config{Queues: []consumer.QueueConfig{{URL: url}}, BackoffBase: time.Second, BackoffMax: time.Second})

	dead := testenv.ReceiveAll(t.Context(), t, client, dlq, 1, 10*time.Second)
	if why := aws.ToString(dead[0].MessageAttributes[jobs.AttrError].StringValue); why != "permanent: tenant over its limit" {
		t.Errorf("dead letter's error %q, want the middleware's", why)
	}
	ran.await(t, 10*time.Second, "the job whose middleware panicked once retried and run", func(n map[string]int) bool { return n["panics"] == 1 })
	if n := ran.snapshot()["refused"]; n != 0 {
		t.Errorf("the handler of the refused job ran %d times", n)
	}
}

func TestMux_DecodeValidatesAsTheConsumerWould(t *testing.T) {
	mux := consumer.NewMux()
	consumer.Handle(mux, func(context.Context, jobs.Ping) error { return nil })
	job, err := mux.Decode("ping", []byte(`{"type":"ping","message":"hi"}`))
	if err != nil || job.(jobs.Ping).Message != "hi" {
		t.Fatalf("Decode = %#v, %v", job, err)
	}
	if _, err := mux.Decode("pong", []byte(`{}`)); !errors.Is(err, consumer.ErrUnknownType) || !strings.Contains(err.Error(), "known: ping") {
		t.Errorf("unknown type: %v, want ErrUnknownType listing the known ones", err)
	}
	if _, err := mux.Decode("ping", []byte(`{"type":"ping","message":12}`)); err == nil {
		t.Error("a body that does not decode was accepted")
	}
}
