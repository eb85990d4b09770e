package producer

import (
	"context"
	"crypto/rand"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/busywork/busywork/jobs"
)

// SendAPI is the part of *sqs.Client the producer calls.
type SendAPI interface {
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
	SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
}

var _ SendAPI = (*sqs.Client)(nil)

// Producer enqueues jobs on one SQS queue. It is safe for concurrent use;
// create one per queue and share it.
type Producer struct {
	client   SendAPI
	queueURL string
	opts     Options
	batcher  batcher // used only when opts.BatchWindow > 0
}

// New returns a Producer that sends to the queue at queueURL through
// client, configured by optFns (see Options for the defaults). It starts no
// goroutine and makes no network call. New panics if client is nil or
// queueURL is empty.
func New(client SendAPI, queueURL string, optFns ...func(*Options)) *Producer {
	if client == nil || queueURL == "" {
		panic("producer.New: client and queueURL are required")
	}
	var o Options
	for _, fn := range optFns {
		fn(&o)
	}
	return &Producer{client: client, queueURL: queueURL, opts: o.withDefaults()}
}

// Options returns the producer's options, with the defaults filled in.
func (p *Producer) Options() Options {
	o := p.opts
	o.SigningKey = append([]byte(nil), o.SigningKey...)
	return o
}

// Send validates job, encodes it with jobs.Marshal and enqueues it, with the
// attributes job_type, job_id (a fresh unique id, which Send returns),
// enqueued_at and, with a signing key, signature. It returns once SQS has
// accepted or refused the message, or when Options.Timeout or ctx ends.
//
// An invalid job, a message over Options.MaxBodyBytes and a bad Delay or
// At are refused before any network call, with errors wrapping
// ErrInvalidJob, ErrTooLarge (a *TooLargeError) and ErrInvalidDelay.
//
// A delayed job also carries the due_at attribute and, with
// Options.DelayStore, is recorded before its message is sent: if that
// fails (the job id was cancelled, or DynamoDB failed), nothing is sent
// and jobID is empty.
//
// With an error, jobID is not empty if a request carrying the message was
// made: after a timeout the job may still have been enqueued under that id,
// which is the consumer's idempotency key.
//
// With Unique, Send first records the job's key; if a job sent within the
// window holds it, Send sends nothing and returns that job's id with a
// *DuplicateError (see Unique). A bad Unique or Tenant is refused before
// any network call with an error wrapping ErrInvalidUnique or
// ErrInvalidTenant.
//
// With micro-batching on (Options.BatchWindow), Send may wait up to the
// window for other Sends to share its SQS call. If ctx ends before the
// batch leaves, Send withdraws its message (nothing is sent) and returns
// ctx.Err() with an empty jobID. If ctx ends after the batch left, Send
// returns ctx.Err() at once with the jobID: the job may still have been
// enqueued. The Send that opened a batch makes the SQS call for all of it,
// under a deadline of Options.Timeout from the batch's opening and not
// cancelled by its own ctx (the others depend on it): that Send returns its
// message's real outcome once the call ends.
func (p *Producer) Send(ctx context.Context, job jobs.Job, opts ...SendOption) (jobID string, err error) {
	so := collectSendOptions(opts)
	if err := so.checkBatch(1); err != nil {
		return "", err
	}
	m, err := p.encode(job, so, 0, time.Now())
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, p.opts.Timeout)
	defer cancel()
	ctx, end := p.trace(ctx, m)
	defer func() { end(err) }()
	if so.unique != nil {
		return p.sendUnique(ctx, m, *so.unique)
	}
	return p.sendMessage(ctx, m)
}

// sendMessage records m if it is delayed, then sends it, alone or in a
// micro-batch; ctx carries the Send's Timeout.
func (p *Producer) sendMessage(ctx context.Context, m *message) (string, error) {
	if err := p.recordDelayed(ctx, m); err != nil {
		return "", err
	}
	if p.opts.BatchWindow > 0 {
		return p.sendBatched(ctx, m)
	}
	_, err := p.client.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl:          aws.String(p.queueURL),
		MessageBody:       aws.String(m.body),
		MessageAttributes: m.attrs,
		DelaySeconds:      m.delay,
		MessageGroupId:    m.tenant,
	})
	if err != nil {
		return m.id, fmt.Errorf("producer: send %s job %s: %w", m.jobType, m.id, err)
	}
	return m.id, nil
}

// message is one job ready to send.
type message struct {
	jobType string
	id      string
	body    string
	attrs   map[string]types.MessageAttributeValue
	delay   int32     // DelaySeconds: the first hop of a delayed job
	due     time.Time // when a delayed job is due; zero for one due now
	size    int       // as SQS counts it: body plus attributes
	tenant  *string
}

// encode checks job, the i-th of its send at now, and so and builds its
// message. It makes no network call.
func (p *Producer) encode(job jobs.Job, so sendOptions, i int, now time.Time) (*message, error) {
	if job == nil {
		return nil, fmt.Errorf("producer: %w: nil job", ErrInvalidJob)
	}
	typ := job.Type()
	if err := job.Validate(); err != nil {
		return nil, fmt.Errorf("producer: %s job: %w: %w", typ, ErrInvalidJob, err)
	}
	delay, err := so.delayFrom(now)
	if err != nil {
		return nil, fmt.Errorf("producer: %s job: %w", typ, err)
	}
	if err := checkUnique(typ, so.unique, p.opts.Uniques); err != nil {
		return nil, err
	}
	tenant, err := checkTenant(typ, so.tenant)
	if err != nil {
		return nil, err
	}
	id := rand.Text()
	if want := so.jobID(i); want != "" {
		if err := jobs.ValidateJobID(want); err != nil {
			return nil, fmt.Errorf("producer: %s job: %w: %w", typ, ErrInvalidJob, err)
		}
		id = want
	}
	body, err := jobs.Marshal(job)
	if err != nil {
		return nil, fmt.Errorf("producer: %w: %w", ErrInvalidJob, err)
	}
	m := &message{
		jobType: typ,
		id:      id,
		body:    string(body),
		attrs:   make(map[string]types.MessageAttributeValue, 4),
		delay:   int32((min(delay, p.opts.MaxHop) + time.Second - 1) / time.Second),
		size:    len(body),
		tenant:  tenant,
	}
	m.setAttr(jobs.AttrJobType, typ)
	m.setAttr(jobs.AttrJobID, m.id)
	m.setAttr(jobs.AttrEnqueuedAt, now.UTC().Format(enqueuedAtLayout))
	if delay > 0 {
		m.due = now.Add(delay)
		m.setAttr(jobs.AttrDueAt, m.due.UTC().Format(time.RFC3339Nano))
	}
	if so.group != "" {
		if err := jobs.ValidateGroupID(so.group); err != nil {
			return nil, fmt.Errorf("producer: %s job: %w: %w", typ, ErrInvalidJob, err)
		}
		m.setAttr(jobs.AttrGroupID, so.group)
	}
	if len(p.opts.SigningKey) > 0 {
		m.setAttr(jobs.AttrSignature, jobs.Sign(p.opts.SigningKey, body))
	}
	if m.size+p.traceBytes() > p.opts.MaxBodyBytes {
		return nil, &TooLargeError{JobType: typ, Size: m.size + p.traceBytes(), Body: len(body), Limit: p.opts.MaxBodyBytes}
	}
	return m, nil
}

const stringType = "String"

// enqueuedAtLayout is RFC 3339 with all nine digits of the nanoseconds:
// RFC3339Nano drops trailing zeros, which made a message's size, and so
// what fits under Options.MaxBodyBytes, vary by a byte or more with the
// clock.
const enqueuedAtLayout = "2006-01-02T15:04:05.000000000Z07:00"

// setAttr sets a String attribute and counts it as SQS does.
func (m *message) setAttr(name, value string) {
	m.attrs[name] = types.MessageAttributeValue{DataType: aws.String(stringType), StringValue: aws.String(value)}
	m.size += len(name) + len(stringType) + len(value)
}

// recordDelayed records m's job in Options.DelayStore, when m is delayed
// and there is one, so that it can be cancelled; the job must not be sent
// when it fails.
func (p *Producer) recordDelayed(ctx context.Context, m *message) error {
	if m.due.IsZero() || p.opts.DelayStore == nil {
		return nil
	}
	if err := p.opts.DelayStore.PutDelayedJob(ctx, m.id, m.jobType, m.due); err != nil {
		return fmt.Errorf("producer: %s job %s not sent: recording its delay: %w", m.jobType, m.id, err)
	}
	return nil
}
