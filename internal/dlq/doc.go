// Package dlq inspects and replays the dead letters of one busywork queue:
// the logic of `busywork dlq stats`, `dlq peek`, `dlq replay` and
// `dlq tasks`.
//
// A Queue is a queue together with its dead-letter queue, the target of
// the queue's redrive policy (where SQS moves what keeps failing and where
// the consumer copies permanent failures):
//
//	q, err := dlq.Open(ctx, sqsClient, queueURL)
//	stats, err := q.Stats(ctx)
//	letters, err := q.Peek(ctx, dlq.PeekOptions{Max: 10})
//	summary, err := q.Replay(ctx, dlq.ReplayOptions{Filter: dlq.Filter{Type: "magic_link"}, Rate: 10})
//	summary, err = q.Purge(ctx, dlq.PurgeOptions{Filter: stats.Rows[0].Filter()})
//
// SQS cannot peek: every read is a receive, which adds one to each
// message's receive count. Stats, Peek and Replay receive with a short
// visibility timeout and make what they do not move visible again at once
// (a visibility change to 0), so another operator or a second run sees
// every message at once. They remember the messages they received by
// MessageId, so a message received twice is counted once. A scan covers
// what the dead-letter queue held when it began: it ends once it has seen
// as many messages as SQS counted then, when a receive brings none, or
// after a few receives in a row that bring only messages seen (SQS's
// counts are approximate).
//
// Replay sends each matching message back to the queue before it deletes
// it from the dead-letter queue, so a crash between the two leaves a
// duplicate, never a loss (handlers are idempotent by job id). The copy
// keeps the body, the job_id and the job's own attributes (job_type,
// enqueued_at, signature, ...), drops the failure attributes (error,
// failed_at) and adds replayed_at. A message without a job_id attribute
// gets its dead letter's MessageId as job_id, the id the consumer gave it,
// so the replayed job keeps its id. Sends and deletes are batched; the
// entries SQS reports failed are retried, then reported.
//
// Purge deletes the matching letters for good, in the same way, and leaves
// the others; Stats.Rows counts the letters by type and cause together,
// and a row's Filter selects its letters, for a replay or a purge of one
// cause.
//
// StartMove, MoveTasks and CancelMoveTasks use SQS's own message move
// tasks instead; endpoints without them (the fauxqs emulator) make them
// fail with ErrNoMoveTasks.
package dlq
