package producer_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/busywork/busywork/ddb"
	"github.com/busywork/busywork/jobs"
	"github.com/busywork/busywork/producer"
)

// A double-clicked order button enqueues one order: the second click's
// Send finds the first's key and answers with the first job's id, so the
// handler answers both clicks alike.
func ExampleUnique() {
	var (
		sqsClient *sqs.Client      // from sqs.NewFromConfig
		ddbClient *dynamodb.Client // from dynamodb.NewFromConfig
	)
	q := producer.New(sqsClient, "https://sqs.eu-west-1.amazonaws.com/123456789012/busywork-jobs",
		producer.WithUniqueStore(ddb.New(ddbClient, "busywork")))

	http.HandleFunc("POST /orders", func(w http.ResponseWriter, r *http.Request) {
		user, item := r.FormValue("user_id"), r.FormValue("item")
		id, err := q.Send(r.Context(), welcome{UserID: user}, producer.Unique(user+"/"+item, 10*time.Second))
		switch {
		case errors.Is(err, producer.ErrDuplicate): // id is the first click's job
		case err != nil:
			w.Header().Set("Retry-After", "1")
			http.Error(w, "busy, try again", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprintln(w, "job", id)
	})
}

// A big order's jobs carry its buyer as their tenant: on a standard SQS
// queue, other buyers' jobs are then not stuck behind them.
func ExampleTenant() {
	var q *producer.Producer // from producer.New
	const total = 1000
	js := make([]jobs.Job, total)
	for i := range js {
		js[i] = ticket{OrderID: "order-42", Number: i + 1, Total: total}
	}
	// A user id, not an address: anyone who reads the queue sees it.
	if _, err := q.SendBatch(context.Background(), js, producer.Tenant("user-8123")); err != nil {
		log.Print(err)
	}
}
