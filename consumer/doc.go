// Package consumer is busywork's worker engine: it long-polls SQS queues,
// runs each job's handler under a deadline, and settles every message with
// SQS: deleted when done, retried with backoff through its visibility
// timeout, or moved to the queue's dead-letter queue.
//
// Register typed handlers on a Mux and run a Consumer until a signal. A
// handler takes a job type of the service's own (a jobs.Job, such as a
// WelcomeEmail with a UserID field):
//
//	mux := consumer.NewMux()
//	consumer.Handle(mux, func(ctx context.Context, j WelcomeEmail) error {
//		return sendWelcome(ctx, j.UserID)
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
// Middleware wraps handlers, for the whole Mux (Mux.Use) or one type
// (With), as net/http's does: see Middleware for the order and for what
// stays the consumer's own (deadlines, panics, what an error means).
//
// # What happens to a message
//
// Each queue (lane) has Concurrency workers, and keeps as many receives
// in flight as its pace needs: it measures the rate at which its handlers
// finish jobs and the round trip of its SQS calls as it runs, and keeps
// twice their product in flight (Little's law, with room to grow), so a
// worker 20 ms from SQS keeps the pace it has on the loopback; see
// MaxReceives. What
// it holds ahead of its handlers follows the same measure (at least a
// batch), so it never hoards a backlog other workers could run. From the
// receive on, a heartbeat keeps each message invisible: a receive asks for
// a short first lease (at most FirstLease, counted from when SQS returned
// the message, so the messages of a receive whose response is lost come
// back soon), and the heartbeat extends it by Lease whenever less than
// half the first lease is left, in batches of up to 10 sent in parallel,
// until SQS has confirmed what became of the message — never past its
// handler's deadline plus HungGrace while it runs, nor past SQS's 12
// hours. Every visibility the consumer sets is capped at what is left of
// those 12 hours.
//
//   - The handler returns nil: its slot is free at once, and the message
//     is deleted in a batch. A batch goes out as soon as no call is in
//     flight, and fills while calls are, or for up to 50 ms while other
//     handlers of the queue still run, so an idle worker deletes at once
//     and a busy one sends full batches. The deletes that may be
//     unconfirmed follow the pace too, up to MaxUnconfirmed: a worker
//     killed outright runs at most Concurrency + that limit finished jobs
//     again.
//   - The handler returns an error, panics or runs out of time: the
//     message's visibility is set to the retry delay of its job type's
//     RetryPolicy (by default Backoff of its attempt; or the delay of a
//     RetryAfter error), and SQS delivers it again then. The queue's
//     redrive policy moves it to the DLQ after maxReceiveCount receives,
//     unless the type's RetryPolicy.Attempts says otherwise: busywork
//     counts a job's attempts itself (Delivery.Attempt), dead-letters it
//     with "attempts exhausted" and its last error after the last, and
//     sends a job with attempts left on as a fresh copy before the
//     queue's last receive. Delivery.LastTry tells a handler that this is
//     the last.
//   - The handler returns Snooze(d), the job is not due yet (a delayed
//     send's due_at), or its type's rate limit (RateLimit) has no start
//     for it now: the job waits, spending neither an attempt nor a
//     receive. A wait of up to HoldLimit is held in the worker's slot;
//     a longer one is sent on as a fresh copy of the message, delayed by
//     up to MaxHop, and the message deleted.
//   - The body is not a job (bad JSON, no or unknown type, fields that do
//     not decode or Validate, or a panic while decoding), a signing key is
//     set and the signature is missing or wrong, or the handler returns a
//     Permanent error: the message is copied to the DLQ with the attributes
//     error and failed_at, then deleted. If the copy fails, the dead
//     letter is parked on its own queue carrying those attributes, and
//     whoever receives it sends it to the DLQ instead of running it (or
//     the queue's redrive policy moves it).
//   - The handler ignores its cancelled context for HungGrace past its
//     deadline: the message is given back for a retry, the handler counts
//     as hung until it returns, and Healthy reports an error once hung
//     handlers hold more than UnhealthyHungShare of the slots.
//   - The lease is lost (the visibility ran out, or SQS refused an
//     extension for good): another worker may have the job, so the
//     handler's context is cancelled with the cause ErrLeaseLost and its
//     result is not sent to SQS.
//
// Failed entries of a batch call are sent again by receipt handle; what
// still fails is logged with the job's id, never dropped silently.
//
// # Shutdown
//
// When Run's context ends, no new receive starts; the receives in flight
// are let finish within DrainTimeout (so what they bring is handled, not
// stranded), and running and queued jobs get DrainTimeout. Then handlers still running are cancelled (the
// cause is ErrShuttingDown); once they return, their messages are released
// (visible again at once), so a job never overlaps its own redelivery.
// Pending deletes and visibility changes are confirmed last. Run returns
// within DrainTimeout + ShutdownMargin, with an error if SQS did not
// confirm some of them.
//
// # Logs and metrics
//
// Each job outcome is one log line with the fields job_id, job_type, lane,
// receive_count, duration_ms, outcome (succeeded, retried, snoozed,
// dead_lettered, released, hung, lease_lost) and error, with attempt and
// attempts for a type with a RetryPolicy. Config.Metrics receives the
// consumer's measurements; package metrics records them in Prometheus
// (busywork_*). The consumer itself depends on no metrics library.
package consumer
