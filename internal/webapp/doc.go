// Package webapp is busywork's demo web app: a magic-link login whose
// request path only enqueues a job. Its handlers answer at once and leave
// the work (looking the user up, making a token, sending the mail) to the
// worker's magic_link handler.
//
//	store := ddb.New(dynamoClient, "busywork")
//	app := webapp.New(webapp.Config{
//		Sender: producer.New(sqsClient, queueURL, producer.WithBatching(producer.SuggestedBatchWindow),
//			producer.WithUniqueStore(store)),
//		Store:   store,
//		BaseURL: "https://busywork.example.com",
//	})
//	http.ListenAndServe("127.0.0.1:8080", app)
//
// Routes:
//
//	GET  /                 the login form; to a signed-in user (session
//	                       cookie), who is signed in, a sign-out button and
//	                       the order form
//	POST /auth/magic-link  enqueue a magic_link job; 202 whether or not the
//	                       user exists, 400 for a malformed address, 429
//	                       with Retry-After for a client over the login
//	                       throttle, 503 with Retry-After when SQS does
//	                       not take the job
//	GET  /auth/verify      the mailed link (?token=): a page that names the
//	                       account and asks to sign in; spends nothing, so
//	                       mail scanners that open links change nothing;
//	                       401 for a used, expired or unknown token
//	POST /auth/verify      the confirm page's form (field token): spends
//	                       the token once, starts a session (cookie) and
//	                       redirects (303) to /; 401 as above
//	POST /auth/sign-out    delete the session, clear the cookie, 303 to /
//	POST /orders           enqueue a ticket order for the signed-in user, to
//	                       the session's address (see orders.go); 401 (JSON)
//	                       or 303 to /#sign-in (form) without a session, 429
//	                       with Retry-After over the order throttle; the
//	                       same order again within 30 s gets the first's
//	                       answer and enqueues nothing
//	GET  /orders/{id}      an order's progress as JSON, with the action that
//	                       finishes it when it stalled
//	GET  /static/order.js  the order page's script: fills its progress bar
//	                       from GET /orders/{id} until the tickets are mailed
//	GET  /static/app.css   the pages' stylesheet (package style's base and
//	                       the app's own rules)
//	GET  /healthz          200 "ok"
//	GET  /metrics          Prometheus metrics, when Config.Metrics is set
//
// POST /auth/magic-link takes a form (field email) and answers HTML, or a
// JSON body {"email": "..."} and answers JSON. Its answer never depends on
// whether the address belongs to a user: the handler does not look the
// user up, so neither the bytes nor the timing can tell. Its throttle is
// a token bucket per client address (Config.LoginBurst, LoginInterval;
// the connection's peer unless Config.TrustForwardedFor), for at most
// MaxThrottledClients clients at once.
//
// Orders need a signed-in user: the tickets go to the session's address,
// whatever the request says, so the app cannot be made to mail strangers.
// The order throttle is a token bucket per signed-in user
// (Config.OrderBurst, OrderInterval). An order is sent with
// producer.Unique keyed by its buyer, event and number of tickets, so the
// same order posted again within RepeatOrderWindow (a double-click, a
// reload of the answer) enqueues nothing, gets the first's answer with
// its order id, and does not count against the throttle; Config.Sender
// needs a unique store (producer.WithUniqueStore) for it. It carries its
// buyer as its tenant (handlers.BuyerTenant), as its tickets do.
//
// Every answer carries the headers of secheaders.Wrap: a Content-Security-Policy that
// runs no inline script and lets no site frame the pages, nosniff and
// Referrer-Policy no-referrer. The pages hold no inline script or style.
//
// Every POST is refused with 403 when a browser says it comes from
// another origin (http.CrossOriginProtection): its Sec-Fetch-Site header
// is anything but same-origin or none, or, from a browser that sends no
// Sec-Fetch-Site, its Origin's host is not the request's Host. Requests
// with neither header (curl, scripts) are served.
//
// Every request's AWS calls share a deadline of [RequestTimeout] (1 s), and
// a call that fails or passes it answers 503 with Retry-After: 1 at once.
// Give the app clients made with awsclient.Interactive, as `busywork web`
// does, so that a retry fits inside that second.
//
// Metrics (with Config.Metrics):
//
//	busywork_web_requests_total{route,code}            requests by route pattern ("POST /auth/magic-link"; "unmatched" for 404s, 405s and refused cross-origin POSTs) and status code
//	busywork_web_send_duration_seconds{type,outcome}   producer.Send's duration, retries included; outcome sent, failed (answered 503) or refused (before any network call)
//	busywork_web_send_failures_total{type}             sends that failed: SQS did not take the job in time
package webapp
