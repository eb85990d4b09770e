// Package producer enqueues busywork jobs on an Amazon SQS queue. Web
// handlers and workers call it; the consumer package runs the jobs.
//
// A Producer encodes a job with jobs.Marshal and sends it with the message
// attributes job_type, job_id (a fresh unique id, the consumer's
// idempotency key), enqueued_at and, when it has a signing key, signature.
// It refuses invalid jobs, oversized messages and bad delays before any
// network call, and bounds every call with a total deadline (1 s by
// default) so that a web handler never hangs on SQS.
//
// The smallest use, from a web handler, with a job type of the service's
// own (a jobs.Job, such as a WelcomeEmail with a UserID field):
//
//	q := producer.New(sqs.NewFromConfig(cfg), queueURL)
//
//	http.HandleFunc("POST /signup", func(w http.ResponseWriter, r *http.Request) {
//		_, err := q.Send(r.Context(), WelcomeEmail{UserID: r.FormValue("user_id")})
//		switch {
//		case errors.Is(err, producer.ErrInvalidJob):
//			http.Error(w, err.Error(), http.StatusBadRequest)
//		case err != nil:
//			w.Header().Set("Retry-After", "1")
//			http.Error(w, "busy, try again", http.StatusServiceUnavailable)
//		default:
//			w.WriteHeader(http.StatusAccepted)
//		}
//	})
//
// Send options shape one send: Delay keeps jobs invisible for a while,
// JobID gives a follow-up a deterministic id, Tenant names whose jobs
// they are (SQS's MessageGroupId: a fair queue keeps one tenant's backlog
// from delaying the others'), and Unique makes a Send a no-op when a job
// of its type was sent with the same key within a window (a double-click
// enqueues one order; the keys live in DynamoDB, given with
// WithUniqueStore).
//
// Delay and At start a job later, up to MaxDelay (30 days) ahead. The
// message carries its due time (the due_at attribute) and a first SQS
// delay of up to 15 minutes; the worker sends it on in hops of up to 15
// minutes until it is due. With WithDelayStore (a *ddb.Store) the job is
// recorded before it is sent, so package delays can cancel it until it
// starts.
//
// SendBatch sends many jobs in SendMessageBatch calls and reports each
// job's outcome. With WithBatching, concurrent Sends share
// SendMessageBatch calls too (micro-batching), which cuts SQS requests
// under load at the price of a few milliseconds per Send; no goroutine
// runs in the background for it.
//
// WithTracer traces the sends (package tracing has a Tracer for
// OpenTelemetry): each message then carries its send's trace context in a
// traceparent attribute, which the job's run continues.
package producer
