package groups

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/busywork/busywork/consumer"
	"github.com/busywork/busywork/ddb"
	"github.com/busywork/busywork/internal/claim"
	"github.com/busywork/busywork/jobs"
	"github.com/busywork/busywork/producer"
)

// FollowUpLease is how long a worker holds the claim to enqueue a group's
// follow-up: its send is cut off well before (followUpSendTimeout), so a
// live worker never loses the claim, and one that died holding it delays
// the follow-up by at most this much.
const FollowUpLease = 15 * time.Second

// followUpSendTimeout bounds the send of a follow-up under its claim.
const followUpSendTimeout = 10 * time.Second

// Sender sends jobs: a *producer.Producer, or a *producer.Router that
// sends each job to its lane.
type Sender interface {
	Send(ctx context.Context, job jobs.Job, opts ...producer.SendOption) (string, error)
	SendBatch(ctx context.Context, js []jobs.Job, opts ...producer.SendOption) ([]producer.Result, error)
}

// Options configure Groups.
type Options struct {
	// TTL is how long a group's item is kept after Start; 0 means the
	// store's JobRetention. It must outlast the children's stay in the
	// queues and their dead-letter queues, so that a replayed child
	// still finds its group.
	TTL time.Duration
	// Logger receives what the middleware records; nil means
	// slog.Default().
	Logger *slog.Logger
}

// Groups starts groups and, through its Middleware, counts their children
// and enqueues their follow-ups. It is safe for concurrent use.
type Groups struct {
	store *ddb.Store
	queue Sender
	opts  Options
}

// New returns Groups keeping its groups in store and sending jobs with
// queue. A worker that only reads groups (Status) may pass a nil queue.
func New(store *ddb.Store, queue Sender, opts Options) *Groups {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Groups{store: store, queue: queue, opts: opts}
}

// ChildID returns the job id of child n (from 1) of group id.
func ChildID(id string, n int) string { return id + "-" + strconv.Itoa(n) }

// FollowUpID returns the job id of group id's follow-up: the same for
// every send of it.
func FollowUpID(id string) string { return id + "-" + followUpSuffix }

const followUpSuffix = "follow-up"

// ErrInvalid is wrapped by Start's errors for a group it refuses before
// any network call.
var ErrInvalid = errors.New("invalid group")

// Start starts group id (see jobs.ValidateGroupID): it records the group,
// its number of children and its follow-up, then sends the children, one
// job id each (ChildID). Every child then runs under the Middleware, and
// the follow-up is enqueued once all are done.
//
// Start is idempotent: called again with the same id and as many children
// (after an error, or by a retried job), it sends the children again and
// each still counts once; called with another number of children it fails.
// An error may leave some children sent: call it again.
//
// opts go with every child, such as producer.Tenant to keep one big group
// from delaying other tenants' jobs; Start sets the children's JobIDs and
// Group itself, over any given. They do not go with the follow-up, which
// a child's delivery sends later.
func (g *Groups) Start(ctx context.Context, id string, children []jobs.Job, followUp jobs.Job, opts ...producer.SendOption) error {
	f, err := followUpJob(id, children, followUp)
	if err != nil {
		return err
	}
	if _, err := g.store.CreateBatch(ctx, id, len(children), f, g.opts.TTL); err != nil {
		return fmt.Errorf("groups: start %s: %w", id, err)
	}
	ids := make([]string, len(children))
	for i := range ids {
		ids[i] = ChildID(id, i+1)
	}
	return g.sendChildren(ctx, id, children, ids, opts...)
}

// sendChildren sends children of group id under the job ids ids, with
// opts.
func (g *Groups) sendChildren(ctx context.Context, id string, children []jobs.Job, ids []string, opts ...producer.SendOption) error {
	opts = append(slices.Clip(opts), producer.JobIDs(ids...), producer.Group(id))
	if _, err := g.queue.SendBatch(ctx, children, opts...); err != nil {
		return fmt.Errorf("groups: send the children of %s: %w", id, err)
	}
	return nil
}

// Resend sends children of group id again, keyed by their numbers (from
// 1), under their job ids: to finish a group whose children failed for
// good, once their cause is fixed, when their dead letters are gone. A
// child that is done already counts once.
func (g *Groups) Resend(ctx context.Context, id string, children map[int]jobs.Job) error {
	if err := jobs.ValidateGroupID(id); err != nil {
		return fmt.Errorf("groups: %w: %w", ErrInvalid, err)
	}
	numbers := slices.Sorted(maps.Keys(children))
	js, ids := make([]jobs.Job, len(numbers)), make([]string, len(numbers))
	for i, n := range numbers {
		if n < 1 {
			return fmt.Errorf("groups: %w %s: child numbers start at 1, not %d", ErrInvalid, id, n)
		}
		js[i], ids[i] = children[n], ChildID(id, n)
	}
	return g.sendChildren(ctx, id, js, ids)
}

// followUpJob checks Start's arguments and returns the follow-up as the
// group's item stores it.
func followUpJob(id string, children []jobs.Job, followUp jobs.Job) (*ddb.FollowUpJob, error) {
	if err := jobs.ValidateGroupID(id); err != nil {
		return nil, fmt.Errorf("groups: %w: %w", ErrInvalid, err)
	}
	if n := len(children); n < 1 || n > ddb.MaxBatchChildren {
		return nil, fmt.Errorf("groups: %w %s: %d children is not between 1 and %d", ErrInvalid, id, n, ddb.MaxBatchChildren)
	}
	if followUp == nil {
		return nil, fmt.Errorf("groups: %w %s: no follow-up job", ErrInvalid, id)
	}
	if err := followUp.Validate(); err != nil {
		return nil, fmt.Errorf("groups: %w %s: follow-up %s: %w", ErrInvalid, id, followUp.Type(), err)
	}
	if _, err := jobs.Marshal(followUp); err != nil { // refuses what a send would
		return nil, fmt.Errorf("groups: %w %s: %w", ErrInvalid, id, err)
	}
	fields, err := json.Marshal(followUp)
	if err != nil {
		return nil, fmt.Errorf("groups: %w %s: %w", ErrInvalid, id, err)
	}
	return &ddb.FollowUpJob{Type: followUp.Type(), Fields: fields}, nil
}

// storedJob is a follow-up as its group's item holds it, to send again:
// it was validated by Start.
type storedJob struct{ *ddb.FollowUpJob }

func (j storedJob) Type() string                 { return j.FollowUpJob.Type }
func (j storedJob) Validate() error              { return nil }
func (j storedJob) MarshalJSON() ([]byte, error) { return j.Fields, nil }

// Middleware returns the middleware that counts a group's children and
// runs its follow-up (see the package comment). A job that is in no group
// passes through it untouched. Install it on every worker that serves a
// group's jobs, outside the handlers' other middleware, so that what they
// return counts as the child's outcome.
func (g *Groups) Middleware() consumer.Middleware {
	return func(next consumer.Handler) consumer.Handler {
		return func(ctx context.Context, job jobs.Job) error {
			d, _ := consumer.DeliveryFromContext(ctx)
			if d.GroupID == "" {
				return next(ctx, job)
			}
			member, ok := strings.CutPrefix(d.ID, d.GroupID+"-")
			if ok && member == followUpSuffix {
				return g.runFollowUp(ctx, d.GroupID, next, job)
			}
			n, err := strconv.Atoi(member)
			if !ok || err != nil || n < 1 || strconv.Itoa(n) != member {
				return consumer.Permanent(fmt.Errorf("groups: job %s names group %s, but it is neither a child (%s) nor its follow-up (%s)",
					d.ID, d.GroupID, ChildID(d.GroupID, 1), FollowUpID(d.GroupID)))
			}
			return g.runChild(ctx, d.GroupID, n, next, job)
		}
	}
}

// runChild runs child n of group id and counts it done; the delivery that
// finds the group complete enqueues the follow-up. When the job ends
// (permanent error, or last receive), it records on the group what is
// left undone.
func (g *Groups) runChild(ctx context.Context, id string, n int, next consumer.Handler, job jobs.Job) (err error) {
	log := g.opts.Logger.With("group_id", id, "child", n)
	err = next(ctx, job)
	if err != nil {
		g.record(ctx, log, err, func(ctx context.Context) error { return g.store.MarkChildFailed(ctx, id, n, err.Error()) })
		return err
	}
	complete, err := g.store.MarkChildDone(ctx, id, n)
	if errors.Is(err, ddb.ErrNotFound) {
		return consumer.Permanent(fmt.Errorf("groups: count child %d done: %w", n, err))
	}
	if err != nil {
		err = fmt.Errorf("groups: count child %d done: %w", n, err)
		g.record(ctx, log, err, func(ctx context.Context) error { return g.store.MarkChildFailed(ctx, id, n, err.Error()) })
		return err
	}
	if !complete {
		return nil
	}
	if err := g.sendFollowUp(ctx, id, log); err != nil {
		// No retry of this child will send it: record the stall, so that
		// the group does not sit complete and not followed up unseen.
		g.record(ctx, log, err, func(ctx context.Context) error { return g.store.MarkBatchStalled(ctx, id, n, err.Error()) })
		return err
	}
	return nil
}

// sendFollowUp enqueues the follow-up of complete group id under its
// claim, unless it was enqueued already.
func (g *Groups) sendFollowUp(ctx context.Context, id string, log *slog.Logger) error {
	c, err := g.store.ClaimFollowUp(ctx, id, FollowUpLease)
	switch {
	case err != nil:
		return fmt.Errorf("groups: %w", err)
	case c.Sent:
		return nil
	case !c.Claimed:
		return consumer.RetryAfter(max(time.Until(c.Until), time.Second),
			fmt.Errorf("groups: group %s: another worker is enqueuing its follow-up (claimed until %s)", id, c.Until.UTC().Format(time.RFC3339)))
	case c.Batch.FollowUp == nil:
		return consumer.Permanent(fmt.Errorf("groups: group %s has no follow-up job (not started by groups.Start?)", id))
	}
	send, cancel := context.WithTimeout(ctx, followUpSendTimeout)
	defer cancel()
	jobID, err := g.queue.Send(send, storedJob{c.Batch.FollowUp}, producer.JobID(FollowUpID(id)), producer.Group(id))
	settle, cancelSettle := context.WithTimeout(context.WithoutCancel(ctx), claim.SettleTimeout)
	defer cancelSettle()
	if err != nil {
		if rerr := g.store.ReleaseFollowUp(settle, id); rerr != nil {
			log.WarnContext(ctx, "groups: could not release the follow-up's claim; its retry waits for the lease", "error", rerr)
		}
		return fmt.Errorf("groups: enqueue the follow-up: %w", err) // the error names its job id
	}
	if err := g.store.MarkFollowUpSent(settle, id); err != nil {
		// Sent: failing now would send it again.
		log.ErrorContext(ctx, "groups: the follow-up is enqueued, but recording that failed", "job_id", jobID, "error", err)
	}
	log.InfoContext(ctx, "groups: complete; follow-up enqueued", "job_id", jobID, "job_type", c.Batch.FollowUp.Type)
	return nil
}

// runFollowUp runs the follow-up of group id once, if the group is
// complete, and marks the group done.
func (g *Groups) runFollowUp(ctx context.Context, id string, next consumer.Handler, job jobs.Job) (err error) {
	log := g.opts.Logger.With("group_id", id)
	b, err := g.store.GetBatch(ctx, id)
	switch {
	case errors.Is(err, ddb.ErrNotFound):
		return consumer.Permanent(fmt.Errorf("groups: follow-up: %w", err))
	case err != nil:
		return fmt.Errorf("groups: follow-up: %w", err)
	case b.Dispatched():
		log.InfoContext(ctx, "groups: the follow-up ran already; skipped", "outcome", "duplicate")
		return nil
	case !b.Complete():
		return consumer.Permanent(fmt.Errorf("groups: follow-up of group %s: %d of its %d children are done", id, len(b.Done), b.Total))
	}
	d, _ := consumer.DeliveryFromContext(ctx)
	err = claim.Once(ctx, g.store, d.ID, "groups: follow-up", log, func(ctx context.Context) (string, error) {
		return "ran", next(ctx, job)
	})
	if err == nil {
		err = g.store.MarkBatchDispatched(ctx, id)
	}
	if err != nil {
		g.record(ctx, log, err, func(ctx context.Context) error { return g.store.MarkBatchStalled(ctx, id, ddb.FollowUp, err.Error()) })
	}
	return err
}

// record calls write, which records err on the group, when err ends the
// job of the delivery in ctx: a permanent error, or any error on the
// job's last receive (SQS moves it to the dead-letter queue next). It
// logs either way: someone must act.
func (g *Groups) record(ctx context.Context, log *slog.Logger, err error, write func(context.Context) error) {
	d, _ := consumer.DeliveryFromContext(ctx)
	if !consumer.IsPermanent(err) && !d.LastTry() {
		return
	}
	settle, cancel := context.WithTimeout(context.WithoutCancel(ctx), claim.SettleTimeout)
	defer cancel()
	werr := write(settle)
	switch {
	case errors.Is(werr, ddb.ErrIncomplete):
		// A follow-up that failed before its group was complete: nothing
		// is stalled.
	case werr != nil:
		log.ErrorContext(ctx, "groups: the job failed for good, and recording that on its group failed",
			"error", err, "record_error", werr, "action", "batch status "+d.GroupID)
	default:
		log.ErrorContext(ctx, "groups: the job failed for good; recorded on its group", "error", err,
			"action", "batch status "+d.GroupID)
	}
}

// Status returns group id as one strongly consistent read: its children
// done and failed (with why), when it completed, when its follow-up was
// enqueued and when it ran, and its stall if one is recorded. An unknown
// or expired group gives an error wrapping ddb.ErrNotFound.
func (g *Groups) Status(ctx context.Context, id string) (ddb.Batch, error) {
	b, err := g.store.GetBatch(ctx, id)
	if err != nil {
		return ddb.Batch{}, fmt.Errorf("groups: %w", err)
	}
	return b, nil
}

// Repaired is what Repair did.
type Repaired struct {
	// Group is the group as Repair found it.
	Group ddb.Batch
	// FollowUpSent reports that Repair enqueued the follow-up.
	FollowUpSent bool
}

// Repair enqueues group id's follow-up again when the group is complete
// and its follow-up has not run: after a stall, or when it was lost. The
// follow-up runs once however often it is enqueued, so Repair is safe to
// run twice, and beside the follow-up's own retries. It does nothing to a
// group whose follow-up ran, or one with children not done: those finish
// when their jobs do, or when their dead letters are replayed
// (Group.Failed lists the ones that failed for good).
func (g *Groups) Repair(ctx context.Context, id string) (Repaired, error) {
	b, err := g.Status(ctx, id)
	if err != nil {
		return Repaired{}, err
	}
	r := Repaired{Group: b}
	if !b.Complete() || b.Dispatched() {
		return r, nil
	}
	if b.FollowUp == nil {
		return r, fmt.Errorf("groups: group %s has no follow-up job (not started by groups.Start?)", id)
	}
	if _, err := g.queue.Send(ctx, storedJob{b.FollowUp}, producer.JobID(FollowUpID(id)), producer.Group(id)); err != nil {
		return r, fmt.Errorf("groups: repair %s: enqueue its follow-up: %w", id, err)
	}
	r.FollowUpSent = true
	if err := g.store.MarkFollowUpSent(ctx, id); err != nil {
		return r, fmt.Errorf("groups: repair %s: the follow-up is enqueued, but recording that failed: %w", id, err)
	}
	return r, nil
}
