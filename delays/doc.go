// Package delays cancels jobs sent with a delay, until they start, and
// runs each delayed job once however many copies of it its journey
// leaves.
//
//	q := producer.New(client, queueURL, producer.WithDelayStore(store))
//	id, err := q.Send(ctx, Reminder{UserID: "u-1"}, producer.Delay(48*time.Hour))
//	...
//	d := delays.New(store, delays.Options{Logger: log})
//	mux.Use(d.Middleware()) // the runtime does this for every binary
//	job, err := d.Cancel(ctx, id) // until it starts
//
// A delayed job travels as one SQS message at a time: it carries its due
// time (the due_at attribute), and a worker that receives it early sends
// a fresh copy delayed by up to SQS's 15 minutes (a hop) and deletes the
// one it holds, until the job is due (package consumer). A copy is sent
// before the original is deleted, so a worker that dies between the two
// leaves two copies, never none.
//
// With a store, the producer records the job (ddb.Store's PutDelayedJob)
// before it sends it. Then:
//
//   - Cancel marks the record cancelled, one conditional update that
//     succeeds only while the job has not started: an unknown id is an
//     error wrapping ddb.ErrNotFound, a started job one wrapping
//     ddb.ErrJobStarted.
//   - The Middleware, around every handler of the worker, marks a due
//     job's record started with the same kind of update before the
//     handler runs; when it finds the job cancelled, the job is skipped
//     (logged, and its message deleted), so a cancelled job never runs.
//     A cancel and a start that race are decided once, one way.
//   - The handler then runs under a claim of the job (as ddb's
//     idempotency claims work), so that a second copy left by a hop runs
//     nothing once the first succeeded, and waits while the first runs.
//     A failed run releases the claim: the job's retry runs.
//
// A job sent without a store cannot be cancelled; its copies still run
// once. A job sent without a delay carries no due_at and passes through
// the middleware untouched, at no cost.
//
// Cost, in DynamoDB writes per delayed job: 1 at send (the record); at
// its start 3 (start, claim, done) plus one every 1.7 s while the
// handler runs (the claim's renewals). Cancel is 1. In SQS, each day of
// delay costs 96 hops, about 135 requests (see docs/library.md).
package delays
