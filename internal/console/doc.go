// Package console is the web console an operator runs with their own AWS
// credentials (`busywork console`): every lane's queue and dead-letter
// queue with their counts, refreshed live, and a chart of their backlog;
// the dead letters counted by type and cause, a few bodies, and per cause
// a Replay and a Purge; the fan-out groups that want a look, and how to
// finish each. It is neither part of the worker nor of a web app.
//
//	srv, err := console.New(console.Config{Lanes: lanes, SQS: sqsClient, Groups: g, Batches: ddb.NewScanner(dynamo, table)})
//	ln, err := net.Listen("tcp", "127.0.0.1:8081")
//	err = srv.Serve(ctx, ln) // until ctx ends
//
// # What it reads, and what that costs
//
// Every Config.Interval (5 s) it reads each lane's queue and dead-letter
// queue counts (GetQueueAttributes: two calls a lane) and keeps History
// (15 minutes) of them in memory, for the chart and for two numbers SQS
// does not give: the backlog's net change a second, and a bound on the
// age of its oldest message (the queue's counts were all 0 at some
// sample, so nothing in it is older; SQS gives the exact age only to
// CloudWatch, which the console does not read). The fleet's rate comes
// from the workers' Prometheus /metrics (Config.Metrics): the jobs each
// finished, by lane and outcome, between two samples.
//
// Dead letters are counted when the page asks (dlq.Queue.Stats: every
// letter received once and released, one receive each, which the
// dead-letter queue, having no redrive policy, only reports). Groups are
// read by id (one GetItem), or found with a bounded scan of the table
// when an operator asks (ddb.Scanner.ScanBatches; the table has no index by
// kind, so a scan costs the items it reads).
//
// # What it changes
//
// Replay moves one row's dead letters (one type, one cause) back to the
// lane's queue at a rate, send before delete (dlq.Queue.Replay). Purge
// deletes one row's dead letters and leaves every other (dlq.Queue.Purge):
// SQS's PurgeQueue would empty the whole dead-letter queue. Repair
// enqueues a stalled group's follow-up again (groups.Groups.Repair). They
// run in the background, one at a time per lane, with their progress
// polled by the page, and end with the server.
//
// # Security
//
// The console acts with its operator's credentials, so it guards every
// request:
//
//   - Every state-changing request is a POST with a JSON body, from the
//     console's own origin (http.CrossOriginProtection: Sec-Fetch-Site,
//     else Origin against Host), carrying a token tied to the page that
//     served it: an HMAC, under a key the process draws at random, of a
//     nonce drawn for the page, the time, and the browser's console cookie
//     (HttpOnly, SameSite=Strict). Another site can neither read a token
//     nor send the cookie.
//   - The API's reads answer only the console's own pages
//     (Sec-Fetch-Site).
//   - Without Config.Remote, only requests whose Host is a loopback name
//     are served, so that a site rebinding its DNS name to 127.0.0.1 gets
//     nothing. With Config.Password, every request needs it (HTTP basic
//     authentication).
//   - Every answer carries secheaders.Wrap's headers: a
//     Content-Security-Policy that runs no inline script or style, no
//     framing, no referrer. The page's script and stylesheet are files
//     the binary serves; nothing loads from elsewhere.
//
// Whether to listen beyond the loopback interface is the caller's
// decision (LoopbackAddr tells); `busywork console` refuses it unless
// told to, and then requires a password.
package console
