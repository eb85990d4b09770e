package consumer_test

import (
	"context"
	"errors"
	"log"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/busywork/busywork/consumer"
	"github.com/busywork/busywork/jobs"
	"github.com/busywork/busywork/metrics"
)

// A worker: typed handlers on a Mux, served until SIGTERM, then drained.
func Example() {
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	meters := metrics.NewConsumer(prometheus.DefaultRegisterer)
	client := sqs.NewFromConfig(cfg, meters.InstrumentSQS)

	mux := consumer.NewMux()
	consumer.Handle(mux, func(ctx context.Context, j jobs.Ping) error {
		d, _ := consumer.DeliveryFromContext(ctx)
		log.Printf("ping %s (job %s, try %d)", j.Message, d.ID, d.ReceiveCount)
		return nil
	}, consumer.Timeout(5*time.Second))

	c, err := consumer.New(client, mux, consumer.Config{
		Queues:  []consumer.QueueConfig{{URL: os.Getenv("QUEUE_URL"), Concurrency: 20}},
		Metrics: meters,
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := c.Run(ctx); err != nil {
		log.Fatal(err)
	}
}

var errNoSuchUser = errors.New("no such user")

// Handler errors steer the engine: nil deletes the job, Permanent sends it
// to the DLQ at once, RetryAfter picks the delay, and any other error
// retries it with backoff.
func ExampleHandle() {
	mux := consumer.NewMux()
	consumer.Handle(mux, func(ctx context.Context, j welcome) error {
		switch err := sendWelcome(ctx, j.UserID); {
		case errors.Is(err, errNoSuchUser):
			return consumer.Permanent(err)
		case err != nil:
			return consumer.RetryAfter(time.Minute, err)
		}
		return nil
	}, consumer.Timeout(30*time.Second))
}

func sendWelcome(context.Context, string) error { return nil }
