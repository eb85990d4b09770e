// Package consumer is busywork's worker engine: it long-polls SQS queues,
// runs each job's handler under a deadline, and settles every message with
// SQS: deleted when done, retried with backoff through its visibility
// timeout, or moved to the queue's dead-letter queue.
//
// Register typed handlers on a Mux and run a Consumer until a signal:
//
//	mux := consumer.NewMux()
//	consumer.Handle(mux, func(ctx context.Context, j jobs.MagicLink) error {
//		return sendLink(ctx, j.Email)
//	}, consumer.Timeout(10*time.Second))
//
//	c, err := consumer.New(sqs.NewFromConfig(cfg), mux, consumer.Config{
//		Queues: []consumer.QueueConfig{{URL: queueURL, Concurrency: 20}},
//	})
//	if err != nil { ... }
//	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
//	defer stop()
//	err = c.Run(ctx) // returns after a graceful drain
//
// # What happens to a message
//
// A poller receives only as many messages as its queue has free slots, so
// no message waits in memory while its visibility runs out. From the
// receive on, a heartbeat extends the message's visibility (in batches of
// up to 10) until the job is settled, but never past its handler's
// deadline plus HungGrace, nor past SQS's 12 hours.
//
//   - The handler returns nil: the message is deleted, in batches of up to
//     10 (sent when full, or 100 ms after the first entry). The job's slot
//     is free again only once SQS confirmed the delete, so a worker that
//     crashes re-runs at most its concurrency limit of finished jobs.
//   - The handler returns an error, panics or runs out of time: the
//     message's visibility is set to Backoff of its receive count (or the
//     delay of a RetryAfter error), and SQS delivers it again then. The
//     queue's redrive policy moves it to the DLQ after maxReceiveCount
//     receives.
//   - The body is not a job (bad JSON, no or unknown type, fields that do
//     not decode or Validate), a signing key is set and the signature is
//     missing or wrong, or the handler returns a Permanent error: the
//     message is copied to the DLQ with the attributes error and failed_at,
//     then deleted. A poison message never reaches a handler twice.
//   - The handler ignores its cancelled context for HungGrace past its
//     deadline: the message is given back for a retry, the handler counts
//     as hung until it returns, and Healthy reports an error once hung
//     handlers hold more than UnhealthyHungShare of the slots.
//
// Failed entries of a batch call are sent again by receipt handle; what
// still fails is logged with the job's id, never dropped silently.
//
// # Logs and metrics
//
// Each job outcome is one log line with the fields job_id, job_type, queue,
// receive_count, duration_ms, outcome (succeeded, retried, dead_lettered,
// released, hung) and error. NewMetrics registers Prometheus metrics named
// busywork_*.
package consumer
