package producer_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/busywork/busywork/jobs"
	"github.com/busywork/busywork/producer"
)

// A web handler enqueues a job and answers at once: 400 for a job that
// can never be sent, 503 with Retry-After when SQS is slow or down.
func ExampleProducer_Send() {
	cfg, err := config.LoadDefaultConfig(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	q := producer.New(sqs.NewFromConfig(cfg), "https://sqs.eu-west-1.amazonaws.com/123456789012/busywork-jobs",
		producer.WithSigningKey([]byte("shared secret")))

	http.HandleFunc("POST /signup", func(w http.ResponseWriter, r *http.Request) {
		_, err := q.Send(r.Context(), welcome{UserID: r.FormValue("user_id")})
		switch {
		case errors.Is(err, producer.ErrInvalidJob):
			http.Error(w, err.Error(), http.StatusBadRequest)
		case err != nil:
			w.Header().Set("Retry-After", "1")
			http.Error(w, "busy, try again", http.StatusServiceUnavailable)
		default:
			w.WriteHeader(http.StatusAccepted)
		}
	})
}

// Delay starts a job no sooner than a while from now (at most 30 days).
// With a DelayStore (a *ddb.Store) the job can be cancelled until it
// starts, with package delays.
func ExampleDelay() {
	var q *producer.Producer // from producer.New(client, queueURL, producer.WithDelayStore(store))
	id, err := q.Send(context.Background(), jobs.Ping{Message: "later"}, producer.Delay(2*time.Hour))
	if err != nil {
		log.Print(err)
		return
	}
	fmt.Println("enqueued", id)
}

// At starts a job no sooner than a given time; one in the past runs now.
func ExampleAt() {
	var q *producer.Producer // from producer.New
	at := time.Date(2026, 12, 24, 9, 0, 0, 0, time.UTC)
	id, err := q.Send(context.Background(), jobs.Ping{Message: "merry"}, producer.At(at))
	if err != nil {
		log.Print(err)
		return
	}
	fmt.Println("enqueued", id)
}

// SendBatch fans an order out into one job per ticket and reports each
// job's fate; the error says how many failed.
func ExampleProducer_SendBatch() {
	var q *producer.Producer // from producer.New
	const total = 25
	js := make([]jobs.Job, total)
	for i := range js {
		js[i] = ticket{OrderID: "order-42", Number: i + 1, Total: total}
	}
	results, err := q.SendBatch(context.Background(), js)
	if err != nil {
		log.Print(err) // e.g. "producer: 1 of 25 jobs not sent (first: ...)"
	}
	for i, r := range results {
		if r.Err != nil {
			log.Printf("ticket %d: %v", i+1, r.Err)
		}
	}
}

// With micro-batching, the concurrent Sends of a busy server share
// SendMessageBatch calls; each Send still returns its own job's outcome.
func ExampleWithBatching() {
	var client *sqs.Client // from sqs.NewFromConfig
	q := producer.New(client, "https://sqs.eu-west-1.amazonaws.com/123456789012/busywork-jobs",
		producer.WithBatching(producer.SuggestedBatchWindow),
		producer.WithTimeout(2*time.Second))
	_ = q // use q.Send from many handlers at once
}

// Each reason to refuse a job before any network call has its own error.
func ExampleTooLargeError() {
	var q *producer.Producer // from producer.New
	_, err := q.Send(context.Background(), jobs.Ping{Message: "hi"})
	var tooLarge *producer.TooLargeError
	switch {
	case errors.As(err, &tooLarge):
		log.Printf("%s job is %d bytes, limit %d", tooLarge.JobType, tooLarge.Size, tooLarge.Limit)
	case errors.Is(err, producer.ErrInvalidJob), errors.Is(err, producer.ErrInvalidDelay):
		log.Print(err)
	}
}
