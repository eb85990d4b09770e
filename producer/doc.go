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
