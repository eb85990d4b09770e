package producer

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"golang.org/x/sync/errgroup"

	"github.com/busywork/busywork/jobs"
)

// maxParallelBatchCalls bounds the SendMessageBatch calls one SendBatch has
// in flight; it stays under the SDK transport's 10 idle connections per
// host.
const maxParallelBatchCalls = 8

// Result is the outcome of one job of a SendBatch call.
type Result struct {
	// JobID is the job's id. It is empty if the job was refused before
	// any network call; otherwise it is set even when Err is not nil,
	// since a job whose request timed out may still have been enqueued.
	JobID string
	// Err is nil if SQS accepted the job's message.
	Err error
}

// SendBatch enqueues js as Send would, using SendMessageBatch calls of at
// most MaxBatchEntries messages and MaxSQSMessageBytes in all, up to 8 of
// them in flight at once. It returns once every call has ended, with one
// Result per job in the order of js, and a *BatchError saying how many jobs
// failed if any did.
//
// A job that is invalid or too large fails only its own Result; the others
// are still sent. A bad Delay or At fails every job before any network
// call. Every job of the batch is due at the same time. With
// Options.DelayStore, the delayed jobs are recorded first (up to 8 at
// once); a job whose record fails is not sent and fails its Result. An
// entry that SQS refuses fails its job with an *EntryError carrying SQS's
// code and message; a call that fails as a whole (or times out) fails the
// jobs of that call. Options.Timeout bounds the whole SendBatch.
// SendBatch does not use micro-batching.
//
// A Tenant goes on every job. Unique fails every job with
// ErrInvalidUnique before any network call: send unique jobs with Send.
func (p *Producer) SendBatch(ctx context.Context, js []jobs.Job, opts ...SendOption) ([]Result, error) {
	so := collectSendOptions(opts)
	if err := so.checkBatch(len(js)); err != nil {
		return failAll(len(js), err)
	}
	if so.unique != nil {
		return failAll(len(js), errUniqueInBatch)
	}
	results := make([]Result, len(js))
	msgs := make([]*message, 0, len(js))
	at := make([]int, 0, len(js)) // at[k] is the index in js of msgs[k]
	now := time.Now()             // every job of the batch is due at the same time
	for i, job := range js {
		m, err := p.encode(job, so, i, now)
		if err != nil {
			results[i].Err = err
			continue
		}
		msgs = append(msgs, m)
		at = append(at, i)
	}

	ctx, cancel := context.WithTimeout(ctx, p.opts.Timeout)
	defer cancel()
	msgs, at = p.recordAllDelayed(ctx, msgs, at, results)
	if len(msgs) == 0 {
		return results, batchError(results)
	}
	ctx, end := p.trace(ctx, msgs...)
	var g errgroup.Group
	g.SetLimit(maxParallelBatchCalls)
	for _, c := range planChunks(msgs) {
		g.Go(func() error {
			errs := p.sendChunk(ctx, msgs[c.lo:c.hi])
			for k, err := range errs {
				results[at[c.lo+k]] = Result{JobID: msgs[c.lo+k].id, Err: err}
			}
			return nil
		})
	}
	_ = g.Wait() // the goroutines report through results and never fail
	err := batchError(results)
	end(err)
	return results, err
}

// recordAllDelayed records the delayed jobs of msgs (at[k] is the index
// of msgs[k] in the batch), up to maxParallelBatchCalls at once, and
// returns the messages to send: a job whose record failed gets its error
// in results and is not sent.
func (p *Producer) recordAllDelayed(ctx context.Context, msgs []*message, at []int, results []Result) ([]*message, []int) {
	if p.opts.DelayStore == nil || len(msgs) == 0 || msgs[0].due.IsZero() {
		return msgs, at // the jobs of a batch are all delayed, or none
	}
	errs := make([]error, len(msgs))
	var g errgroup.Group
	g.SetLimit(maxParallelBatchCalls)
	for k, m := range msgs {
		g.Go(func() error {
			errs[k] = p.recordDelayed(ctx, m)
			return nil
		})
	}
	_ = g.Wait() // the goroutines report through errs and never fail
	kept, keptAt := msgs[:0], at[:0]
	for k, m := range msgs {
		if errs[k] != nil {
			results[at[k]].Err = errs[k]
			continue
		}
		kept, keptAt = append(kept, m), append(keptAt, at[k])
	}
	return kept, keptAt
}

// failAll returns n Results failed with err, and their BatchError.
func failAll(n int, err error) ([]Result, error) {
	results := make([]Result, n)
	for i := range results {
		results[i].Err = err
	}
	return results, batchError(results)
}

// span is the half-open range [lo, hi) of messages of one SendMessageBatch
// call.
type span struct{ lo, hi int }

// planChunks splits msgs, in order, into spans of at most MaxBatchEntries
// messages and MaxSQSMessageBytes in all. Each message fits alone, since
// Options.MaxBodyBytes is at most MaxSQSMessageBytes.
func planChunks(msgs []*message) []span {
	var spans []span
	cur, bytes := span{}, 0
	for i, m := range msgs {
		if i > cur.lo && (i-cur.lo == MaxBatchEntries || bytes+m.size > MaxSQSMessageBytes) {
			spans = append(spans, span{cur.lo, i})
			cur, bytes = span{lo: i}, 0
		}
		bytes += m.size
	}
	return append(spans, span{cur.lo, len(msgs)})
}

// sendChunk sends msgs (a valid batch) in one SendMessageBatch call and
// returns each message's error, nil if SQS accepted it. It never leaves a
// message without a verdict.
func (p *Producer) sendChunk(ctx context.Context, msgs []*message) []error {
	in := &sqs.SendMessageBatchInput{
		QueueUrl: aws.String(p.queueURL),
		Entries:  make([]types.SendMessageBatchRequestEntry, len(msgs)),
	}
	for i, m := range msgs {
		in.Entries[i] = types.SendMessageBatchRequestEntry{
			Id:                aws.String(strconv.Itoa(i)),
			MessageBody:       aws.String(m.body),
			MessageAttributes: m.attrs,
			DelaySeconds:      m.delay,
			MessageGroupId:    m.tenant,
		}
	}
	errs := make([]error, len(msgs))
	out, err := p.client.SendMessageBatch(ctx, in)
	if err != nil {
		for i, m := range msgs {
			errs[i] = fmt.Errorf("producer: send %s job %s (batch of %d): %w", m.jobType, m.id, len(msgs), err)
		}
		return errs
	}
	if out == nil {
		out = &sqs.SendMessageBatchOutput{}
	}
	seen := make([]bool, len(msgs))
	for _, s := range out.Successful {
		if i, ok := entryIndex(s.Id, len(msgs)); ok {
			seen[i] = true
		}
	}
	for _, f := range out.Failed { // a Failed entry wins over a Successful one
		if i, ok := entryIndex(f.Id, len(msgs)); ok {
			seen[i] = true
			errs[i] = &EntryError{
				JobType:     msgs[i].jobType,
				JobID:       msgs[i].id,
				Code:        aws.ToString(f.Code),
				Message:     aws.ToString(f.Message),
				SenderFault: f.SenderFault,
			}
		}
	}
	for i, m := range msgs {
		if !seen[i] {
			errs[i] = fmt.Errorf("producer: send %s job %s: SQS's SendMessageBatch reply lists it neither as successful nor as failed", m.jobType, m.id)
		}
	}
	return errs
}

// entryIndex parses a batch entry id back into its message index.
func entryIndex(id *string, n int) (int, bool) {
	i, err := strconv.Atoi(aws.ToString(id))
	return i, err == nil && i >= 0 && i < n
}
