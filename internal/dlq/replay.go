package dlq

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"golang.org/x/time/rate"

	"github.com/busywork/busywork/jobs"
)

const (
	// DefaultRate is the default of ReplayOptions.Rate, in messages per
	// second: gentle on what the jobs call (SES sends 14 mails a second on
	// a new production account).
	DefaultRate = 10
	// holdMargin is what the visibility timeout of a replay's receive adds
	// to the wait its messages have for the rate: time for a send and a
	// delete with all their retries.
	holdMargin = 2 * maxAttempts * callTimeout
	// maxMessageBytes is SQS's limit on one message and on the total
	// payload of one SendMessageBatch call.
	maxMessageBytes = 1 << 20
)

// ReplayOptions says what Replay moves, and how fast.
type ReplayOptions struct {
	// Filter selects the letters to move.
	Filter Filter
	// Max, when positive, is the most letters moved.
	Max int
	// Rate is the most letters sent a second. Default DefaultRate.
	Rate float64
	// DryRun, when set, moves nothing: Replay receives, counts what would
	// move, and releases every message at once.
	DryRun bool
	// Progress, when set, is called after each batch received.
	Progress func(Progress)
}

// Progress is how far a replay has come.
type Progress struct {
	// Expected is how many letters the replay may move at most: the
	// dead-letter queue's count when it began, or Max if lower.
	Expected int
	// Matched counts the letters that matched the filter (and Max).
	Matched int
	// Moved counts the letters sent back to the queue (by Purge: the
	// letters deleted).
	Moved int
	// Failed counts the matched letters that could not be sent (by
	// Purge: deleted): they stay in the dead-letter queue.
	Failed int
	// Skipped counts the letters that did not match, released untouched.
	Skipped int
}

// Summary is what a replay did.
type Summary struct {
	Progress
	// DryRun says nothing was moved: Matched is what would have moved.
	DryRun bool
	// Types and Errors count the matched letters by type and error group,
	// as Stats does.
	Types, Errors []Count
	// Failures are the letters not moved, with SQS's last error for each.
	Failures []Failure
	// Undeleted are letters moved whose delete from the dead-letter queue
	// failed: they are in both queues (replaying them again makes a
	// duplicate that handlers, idempotent by job id, ignore).
	Undeleted []Failure
	// Unreleased counts letters whose release SQS refused: they stay
	// hidden until their visibility timeout ends.
	Unreleased int
	// Elapsed is how long the replay took.
	Elapsed time.Duration
}

// OK reports whether every matched letter moved (or, for a dry run,
// whether nothing went wrong).
func (s *Summary) OK() bool {
	return len(s.Failures) == 0 && len(s.Undeleted) == 0 && s.Unreleased == 0
}

// replay is one run of Replay, or of Purge.
type replay struct {
	q     *Queue
	opts  ReplayOptions
	sum   *Summary
	tally *tally
	lim   *rate.Limiter
	burst int
	// settle moves the matching letters of one chunk: sends them back
	// to the queue then deletes them (move), or only deletes them
	// (remove).
	settle func(r *replay, msgs []types.Message)
}

// Replay moves the letters that match opts.Filter, up to opts.Max, back to
// the queue at opts.Rate: each batch is sent (SendMessageBatch), then
// deleted from the dead-letter queue (DeleteMessageBatch), so a crash
// between the two duplicates a message and never loses one. Letters that
// do not match are released at once, untouched. When ctx ends, Replay
// finishes the batch being sent, releases what it holds and returns
// ctx's error with the summary so far.
func (q *Queue) Replay(ctx context.Context, opts ReplayOptions) (*Summary, error) {
	if opts.Rate == 0 {
		opts.Rate = DefaultRate
	}
	if !(opts.Rate > 0) || math.IsInf(opts.Rate, 0) {
		return nil, fmt.Errorf("dlq: rate %v is not a positive number of messages a second", opts.Rate)
	}
	return q.drain(ctx, opts, (*replay).move)
}

// drain receives the dead-letter queue's letters once each, settles those
// that match opts at opts.Rate with settle, and releases the others.
func (q *Queue) drain(ctx context.Context, opts ReplayOptions, settle func(*replay, []types.Message)) (*Summary, error) {
	start := time.Now()
	s, attrs, err := q.newScanner(ctx)
	if err != nil {
		return nil, err
	}
	burst := maxBatch
	if opts.Rate < maxBatch {
		burst = int(math.Ceil(opts.Rate))
	}
	r := &replay{q: q, opts: opts, sum: &Summary{DryRun: opts.DryRun}, tally: newTally(),
		lim: rate.NewLimiter(rate.Limit(opts.Rate), burst), burst: burst, settle: settle}
	// Start with an empty bucket, so that the first messages wait for the
	// rate too: N messages take N/Rate, however few.
	r.lim.AllowN(time.Now(), burst)
	r.sum.Expected = attrs.count
	if opts.Max > 0 {
		r.sum.Expected = min(opts.Max, attrs.count)
	}
	for ctx.Err() == nil && (opts.Max <= 0 || r.sum.Matched < opts.Max) {
		n := maxBatch
		if opts.Max > 0 {
			n = min(n, opts.Max-r.sum.Matched)
		}
		hold := readHold
		if !opts.DryRun {
			hold = time.Duration(math.Ceil(float64(n)/opts.Rate))*time.Second + holdMargin
		}
		var msgs []types.Message
		if msgs, err = s.next(ctx, n, hold); err != nil || len(msgs) == 0 {
			break
		}
		r.batch(ctx, msgs)
		if opts.Progress != nil {
			opts.Progress(r.sum.Progress)
		}
	}
	r.sum.Types, r.sum.Errors = counts(r.tally.types), counts(r.tally.errors)
	r.sum.Unreleased += s.unreleased
	r.sum.Elapsed = time.Since(start)
	if err == nil {
		err = ctx.Err()
	}
	return r.sum, err
}

// batch moves the letters of msgs that match, and releases the others.
func (r *replay) batch(ctx context.Context, msgs []types.Message) {
	var move, rest []types.Message
	for _, m := range msgs {
		l := newLetter(m)
		if (r.opts.Max <= 0 || r.sum.Matched < r.opts.Max) && r.opts.Filter.Match(l) {
			r.sum.Matched++
			r.tally.add(l)
			move = append(move, m)
		} else {
			r.sum.Skipped++
			rest = append(rest, m)
		}
	}
	if r.opts.DryRun {
		rest, move = append(rest, move...), nil
	}
	r.sum.Unreleased += len(r.q.release(rest))
	for len(move) > 0 {
		chunk := move[:min(r.burst, len(move))]
		if r.lim.WaitN(ctx, len(chunk)) != nil { // ctx ended
			r.sum.Unreleased += len(r.q.release(move))
			return
		}
		r.settle(r, chunk)
		move = move[len(chunk):]
	}
}

// move sends msgs to the queue, then deletes from the dead-letter queue
// those that were sent, and releases the others and those whose delete
// failed.
func (r *replay) move(msgs []types.Message) {
	failed := r.q.send(msgs, time.Now())
	unsent := make(map[string]bool, len(failed))
	for _, f := range failed {
		unsent[f.Letter.MessageID] = true
	}
	sent := make([]types.Message, 0, len(msgs))
	for _, m := range msgs {
		if !unsent[aws.ToString(m.MessageId)] {
			sent = append(sent, m)
		}
	}
	r.sum.Failures = append(r.sum.Failures, failed...)
	r.sum.Failed += len(failed)
	r.sum.Moved += len(sent)
	undeleted := r.q.delete(sent)
	r.sum.Undeleted = append(r.sum.Undeleted, undeleted...)
	// What stays in the DLQ is visible there at once.
	r.sum.Unreleased += len(r.q.release(letterMessages(append(failed, undeleted...))))
}

func letterMessages(fs []Failure) []types.Message {
	msgs := make([]types.Message, len(fs))
	for i, f := range fs {
		msgs[i] = f.Letter.msg
	}
	return msgs
}

// send sends copies of msgs to the queue, stamped replayed_at now, and
// returns those SQS did not take.
func (q *Queue) send(msgs []types.Message, now time.Time) []Failure {
	at := now.UTC().Format(time.RFC3339Nano)
	return settle(msgs, sendBatches, func(ctx context.Context, batch []types.Message) []error {
		in := &sqs.SendMessageBatchInput{QueueUrl: aws.String(q.URL)}
		for i, m := range batch {
			in.Entries = append(in.Entries, types.SendMessageBatchRequestEntry{
				Id: aws.String(strconv.Itoa(i)), MessageBody: m.Body, MessageAttributes: replayAttributes(m, at),
				MessageSystemAttributes: traceHeader(m),
			})
		}
		out, err := q.client.SendMessageBatch(ctx, in)
		if err != nil {
			return fill(len(batch), fmt.Errorf("send to %s: %w", q.Name, err))
		}
		return entryErrors(len(batch), successIDs(out.Successful, func(e types.SendMessageBatchResultEntry) *string { return e.Id }), out.Failed)
	})
}

// replayAttributes returns the attributes of m's copy: m's own but error
// and failed_at (and an earlier replayed_at), and attempts, so that the
// replayed job has its type's attempts afresh; job_id set to m's MessageId
// when m has none, and replayed_at when SQS's 10 attributes leave room.
func replayAttributes(m types.Message, at string) map[string]types.MessageAttributeValue {
	attrs := make(map[string]types.MessageAttributeValue, len(m.MessageAttributes)+2)
	for name, v := range m.MessageAttributes {
		switch name {
		case jobs.AttrError, jobs.AttrFailedAt, AttrReplayedAt, jobs.AttrAttempts:
		default:
			attrs[name] = v
		}
	}
	if _, ok := attrs[jobs.AttrJobID]; !ok {
		attrs[jobs.AttrJobID] = stringAttr(aws.ToString(m.MessageId))
	}
	if len(attrs) < maxBatch { // SQS's limit of 10 attributes
		attrs[AttrReplayedAt] = stringAttr(at)
	}
	return attrs
}

// traceHeader returns m's AWSTraceHeader system attribute for its copy,
// or nil when it has none: the replayed job stays in its trace (its
// traceparent attribute, if any, is kept with the others).
func traceHeader(m types.Message) map[string]types.MessageSystemAttributeValue {
	h := m.Attributes[string(types.MessageSystemAttributeNameAWSTraceHeader)]
	if h == "" {
		return nil
	}
	return map[string]types.MessageSystemAttributeValue{
		string(types.MessageSystemAttributeNameForSendsAWSTraceHeader): {DataType: aws.String("String"), StringValue: aws.String(h)},
	}
}

func stringAttr(s string) types.MessageAttributeValue {
	return types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(s)}
}

// sendBatches splits msgs into batches of at most maxBatch messages and
// maxMessageBytes in all.
func sendBatches(msgs []types.Message) [][]types.Message {
	var out [][]types.Message
	lo, bytes := 0, 0
	for i, m := range msgs {
		size := messageSize(m)
		if i > lo && (i-lo == maxBatch || bytes+size > maxMessageBytes) {
			out = append(out, msgs[lo:i])
			lo, bytes = i, 0
		}
		bytes += size
	}
	return append(out, msgs[lo:])
}

// messageSize is m's size as SQS counts it: the body, and each attribute's
// name, data type and value. It errs high by the replayed_at attribute.
func messageSize(m types.Message) int {
	n := len(aws.ToString(m.Body)) + len(AttrReplayedAt) + len("String") + len(time.RFC3339Nano)
	for name, v := range m.MessageAttributes {
		n += len(name) + len(aws.ToString(v.DataType)) + len(aws.ToString(v.StringValue)) + len(v.BinaryValue)
	}
	return n
}
