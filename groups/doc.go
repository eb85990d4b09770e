// Package groups fans jobs out and in: a group is N child jobs, of any
// types, and one follow-up job that is enqueued when the last child is
// done.
//
//	g := groups.New(store, router, groups.Options{Logger: log})
//	mux.Use(g.Middleware()) // the runtime does this for every binary
//	err := g.Start(ctx, orderID, children, jobs.Job(dispatch))
//
// Start records the group in DynamoDB (its size and its follow-up) and
// sends the children, each under the job id ChildID(group, n) and with the
// group_id attribute. The Middleware, around every handler of the worker,
// does the rest:
//
//   - A child whose handler succeeds is counted done in the group's item,
//     once: a conditional update adds its number to a set, so a child
//     delivered twice, run twice or replayed from the dead-letter queue
//     counts once. A child whose handler fails for good (a permanent
//     error, or any error on its last receive) is recorded failed, with
//     the reason; if it is replayed later and succeeds, it counts done.
//   - The delivery that finds the group complete (the last child, or any
//     redelivery of a child after that) claims the follow-up's enqueue in
//     the group's item, sends it under the job id FollowUpID(group) and
//     records it sent. A worker that dies holding the claim leaves it to
//     expire (FollowUpLease): the redelivery of its child then sends it.
//   - The follow-up's own delivery runs its handler once per group: under
//     a claim of its job id, so that a follow-up sent twice (a send whose
//     outcome a worker did not learn before it died) runs once, and the
//     group is marked done after it.
//
// So the follow-up runs exactly once, when every child is done, however
// the children are delivered, retried or replayed; the follow-up is
// enqueued once, except when a worker dies between SQS accepting it and
// recording that, where a second copy is enqueued and skipped.
//
// When no retry is coming, the group records why: a child's failure, or
// its stall (the follow-up could not be sent on a child's last receive,
// or the follow-up failed for good). Status reads all of it in one
// request; Repair sends the follow-up again when it is stalled.
// `busywork batch status|repair GROUP_ID` are the same from the command
// line.
//
// A group has 1 to ddb.MaxBatchChildren children, and its item lives for
// Options.TTL (the store's JobRetention by default) after Start. The
// children of one group are counted in one DynamoDB item, so a group's
// completions are bounded by that item's write rate (about 1,000 updates
// a second).
package groups
