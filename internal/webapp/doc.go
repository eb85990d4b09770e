// Package webapp is busywork's demo web app: a magic-link login whose
// request path only enqueues a job. Its handlers answer at once and leave
// the work (looking the user up, making a token, sending the mail) to the
// worker's magic_link handler.
//
//	app := webapp.New(webapp.Config{
//		Sender:  producer.New(sqsClient, queueURL, producer.WithBatching(producer.SuggestedBatchWindow)),
//		Store:   ddb.New(dynamoClient, "busywork"),
//		BaseURL: "https://busywork.example.com",
//	})
//	http.ListenAndServe("127.0.0.1:8080", app)
//
// Routes:
//
//	GET  /                 the login form
//	POST /auth/magic-link  enqueue a magic_link job; 202 whether or not the
//	                       user exists, 400 for a malformed address, 503
//	                       with Retry-After when SQS does not take the job
//	GET  /auth/verify      spend ?token=, start a session (cookie); 401 for
//	                       a used, expired or unknown token
//	GET  /healthz          200 "ok"
//	GET  /metrics          Prometheus metrics, when Config.Metrics is set
//
// POST /auth/magic-link takes a form (field email) and answers HTML, or a
// JSON body {"email": "..."} and answers JSON. Its answer never depends on
// whether the address belongs to a user: the handler does not look the
// user up, so neither the bytes nor the timing can tell.
//
// Every request's AWS calls share a deadline of [RequestTimeout] (1 s), and
// a call that fails or passes it answers 503 with Retry-After: 1 at once.
// Give the app clients made with awsclient.Interactive, as `busywork web`
// does, so that a retry fits inside that second.
//
// Metrics (with Config.Metrics):
//
//	busywork_web_requests_total{route,code}            requests by route pattern ("POST /auth/magic-link"; "unmatched" for 404s and 405s) and status code
//	busywork_web_send_duration_seconds{type,outcome}   producer.Send's duration, retries included; outcome sent, failed (answered 503) or refused (before any network call)
//	busywork_web_send_failures_total{type}             sends that failed: SQS did not take the job in time
package webapp
