// Package ddb is busywork's only door to DynamoDB: users, magic-link
// tokens, per-email rate limits, job idempotency claims, the unique keys
// of producer.Unique, delayed jobs' records, fan-out batches and ticket
// orders, all in one table.
//
//	store := ddb.New(dynamodb.NewFromConfig(cfg), "busywork")
//	if err := store.PutUser(ctx, "ada@example.com", "Ada"); err != nil { ... }
//	token, err := store.CreateToken(ctx, "ada@example.com", 0) // 15 minutes
//	...
//	email, err := store.ConsumeToken(ctx, token, time.Now()) // once only
//
// # Item layout
//
// The table has a string partition key pk, a string sort key sk, and a
// number attribute ttl (Unix seconds) that the table's TTL setting names,
// so DynamoDB deletes an item some time after ttl passes. Deletion may lag
// by days (and DynamoDB Local never deletes), so every read and condition
// here treats an item whose time has passed as absent.
//
//	item             pk                     sk                   other attributes
//	user             USER#<email>           PROFILE              email, name, created_at
//	magic-link token TOKEN#<sha256 hex>     TOKEN                email, created_at, expires_at, ttl, used_at and used_by (once used)
//	rate window      RATE#<email>           WINDOW#<start>       jobs (set of job ids counted), ttl
//	job claim        JOB#<job id>           CLAIM                status, owner, claimed_at, lease_until, result, ttl
//	unique key       UNIQUE#<sha256 hex>    UNIQUE               job_id, created_at, ttl (the end of its window)
//	delayed job      JOB#<job id>           DELAYED              job_type, due_at, status, created_at, cancelled_at or started_at, ttl
//	session          SESSION#<sha256 hex>   SESSION              email, created_at, expires_at, ttl
//	batch            BATCH#<id>             BATCH                total, remaining, done, failed, created_at, last_done_at, dispatched_at, ttl;
//	                                                             stalled_children, follow_up_failed, stall_reason, stalled_at while its follow-up is stalled
//	order            ORDER#<id>             ORDER                email, event, tickets, created_at, ttl
//	ticket file      ORDER#<id>             TICKET#<n, 5 digits> number, pdf, ttl
//
// <email> is the address normalised by NormalizeEmail (trimmed,
// lower-cased). A token or session id is never stored: its item is keyed by the
// hex-encoded SHA-256 of the token's 32 random bytes, so a read of the
// table yields no usable link. A unique key is kept only as its SHA-256
// too, since it may hold an address. <start> is the window's start in Unix
// seconds. All times are Unix seconds in number attributes.
//
// # Idempotency claims
//
// A job handler with a side effect that cannot be undone, such as an email
// accepted by SES, brackets it with a claim keyed by the job's id:
//
//	claim, err := store.ClaimJob(ctx, jobID, lease) // 1. claim
//	switch {
//	case claim.Done:     // an earlier delivery finished: skip, succeed
//	case !claim.Claimed: // a live attempt holds it: retry after claim.LeaseUntil
//	}
//	err = send()                                     // 2. side effect, while
//	                                                 //    RenewJob extends the lease
//	if err != nil { store.ReleaseJob(ctx, jobID, claim.Owner); return err }
//	store.CompleteJob(ctx, jobID, result)             // 3. mark done
//
// What that guarantees, within Options.JobRetention (15 days by default,
// longer than SQS keeps a message):
//
//   - Once CompleteJob has recorded a job as done, no later delivery of
//     that job runs the side effect again.
//   - While an attempt holds a live claim (until its lease ends), a second
//     delivery of the same job, for example SQS delivering a message twice
//     at once, does not run the side effect; it is told when the lease ends.
//   - It is not exactly-once. SES takes no idempotency key, so when an
//     attempt dies, or its send's outcome is unknown (timeout, broken
//     connection), after SES accepted the message but before CompleteJob
//     succeeded, a later delivery finds the claim released or its lease
//     run out and sends again: one extra email per such failure, never a
//     lost one. The lease must therefore be renewed (RenewJob) for as long
//     as the attempt may run, so that only a dead or finished attempt's
//     claim is ever taken over; a short lease renewed often lets a dead
//     attempt's claim go soon.
//
// # Fan-out batches
//
// A job that fans out into N children creates a batch of N first; each
// child, once its work is done, counts itself and learns whether it was
// the last:
//
//	created, err := store.CreateBatch(ctx, orderID, n, nil, 0) // idempotent
//	...                                                    // enqueue children 1..n
//	complete, err := store.MarkChildDone(ctx, orderID, i)  // in child i
//	if complete { ... }                                    // enqueue the follow-up
//
// A child is counted once however often it is delivered: the batch item
// holds the set of children counted, and one conditional update adds a
// child to it and counts it only when it is not there yet. complete is
// reported to every call made once the batch is complete, also to a
// redelivered child counted before, so a follow-up whose enqueue was lost
// is enqueued by the redelivery. The follow-up may therefore be enqueued
// more than once and must be idempotent (a deterministic job id and
// ClaimJob); it records itself with MarkBatchDispatched. The whole batch
// is one item, so its status is one read (GetBatch); it holds up to
// MaxBatchChildren children inside DynamoDB's 400 KB item limit.
//
// # Delayed jobs
//
// A job sent with a delay (package producer, with a store) is recorded
// before its message is sent, as scheduled; package delays cancels it and
// starts it:
//
//	err := store.PutDelayedJob(ctx, jobID, jobType, due) // at send
//	job, err := store.CancelDelayedJob(ctx, jobID)     // ErrJobStarted, ErrNotFound
//	job, err := store.StartDelayedJob(ctx, jobID)      // in the worker: ErrJobCancelled
//
// Cancel and start are conditional updates of the one record, so when
// they race exactly one wins: a cancelled job never starts, a started one
// cannot be cancelled.
package ddb
