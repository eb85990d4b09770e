package ddb

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Batch items (see the package comment for the other kinds):
//
//	batch            BATCH#<id>             BATCH                total, remaining, done, failed, created_at, last_done_at, dispatched_at, ttl,
//	                                                             follow_up_type, follow_up, follow_up_sending, follow_up_sent_at,
//	                                                             and, while its follow-up is stalled, stalled_children, follow_up_failed, stall_reason, stalled_at
//
// done is the number set of the children counted done and remaining the
// count still to go, changed together by one conditional update; failed
// maps a child's number (as a string) to why it failed. follow_up_type
// and follow_up (its JSON fields) are the job to enqueue once the batch
// is complete, follow_up_sending the end (Unix seconds) of the claim of
// the worker enqueuing it, follow_up_sent_at when it was enqueued. The
// stall attributes are stalls.go's.

// MaxBatchChildren is the largest number of children a batch may have.
// Its item then holds up to 10,000 numbers in done and entries in failed,
// well inside DynamoDB's 400 KB item limit (MarkChildFailed drops reasons
// rather than overflow it).
const MaxBatchChildren = 10000

// MarkChildFailed keeps the reasons of at most maxReasons failed children
// of a batch, of at most maxReasonBytes each: about 262 KB, which leaves
// room for every other child's number in done or failed.
const (
	maxReasons     = 1000
	maxReasonBytes = 256
)

const (
	skBatch          = "BATCH"
	attrTotal        = "total"
	attrRemaining    = "remaining"
	attrDone         = "done"
	attrFailed       = "failed"
	attrCreatedAt    = "created_at"
	attrLastDoneAt   = "last_done_at"
	attrDispatchedAt = "dispatched_at"
	attrFollowUpType = "follow_up_type"
	attrFollowUp     = "follow_up"
	attrSending      = "follow_up_sending"
	attrSentAt       = "follow_up_sent_at"
)

// FollowUpJob is the job a batch's completion enqueues, as CreateBatch
// stores it.
type FollowUpJob struct {
	// Type is the job's type.
	Type string
	// Fields is the JSON object of the job's fields, without "type".
	Fields []byte
}

// Batch is the state of a fan-out: Total children, numbered 1 to Total,
// each counted done at most once.
type Batch struct {
	// ID is the batch's id, as given to CreateBatch.
	ID string
	// Total is the number of children.
	Total int
	// Done lists the children counted done, in increasing order.
	Done []int
	// Failed maps a child that was recorded failed, and is not done since,
	// to why it failed (empty when the batch's item had no room left for
	// the reason).
	Failed map[int]string
	// CreatedAt is when CreateBatch created the batch.
	CreatedAt time.Time
	// CompletedAt is when the last child was counted; zero until then.
	CompletedAt time.Time
	// FollowUp is the job the batch's completion enqueues, if CreateBatch
	// was given one.
	FollowUp *FollowUpJob
	// FollowUpSentAt is when MarkFollowUpSent recorded that the follow-up
	// was enqueued; zero until then.
	FollowUpSentAt time.Time
	// DispatchedAt is when MarkBatchDispatched recorded that the
	// follow-up ran; zero until then.
	DispatchedAt time.Time
	// Stall is why the complete batch's follow-up has not run, when a
	// worker recorded it (MarkBatchStalled); nil otherwise, and once
	// dispatched.
	Stall *Stall
}

// Complete reports whether every child is counted done.
func (b Batch) Complete() bool { return b.Total > 0 && len(b.Done) >= b.Total }

// Dispatched reports whether MarkBatchDispatched recorded the follow-up.
func (b Batch) Dispatched() bool { return !b.DispatchedAt.IsZero() }

func batchKey(id string) map[string]types.AttributeValue {
	return key(batchPrefix+id, skBatch)
}

// CreateBatch creates batch id of total children (1 to MaxBatchChildren),
// with the job its completion enqueues (none when followUp is nil), kept
// for ttl (Options.JobRetention when ttl <= 0, which outlasts any SQS
// message, so a child replayed from a dead-letter queue still finds its
// batch). It is idempotent: when batch id exists already with the same
// total, it changes nothing and returns created false; with another total
// it returns an error.
func (s *Store) CreateBatch(ctx context.Context, id string, total int, followUp *FollowUpJob, ttl time.Duration) (created bool, err error) {
	if id == "" {
		return false, errors.New("ddb: create batch: id is empty")
	}
	if total < 1 || total > MaxBatchChildren {
		return false, fmt.Errorf("ddb: create batch %s: total %d is not between 1 and %d", id, total, MaxBatchChildren)
	}
	now := s.opts.Now()
	item := batchKey(id)
	item[attrTotal] = num(int64(total))
	item[attrRemaining] = num(int64(total))
	item[attrFailed] = &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{}}
	item[attrCreatedAt] = num(now.Unix())
	item[attrTTL] = num(epoch(now.Add(s.retention(ttl))))
	if followUp != nil {
		item[attrFollowUpType] = str(followUp.Type)
		item[attrFollowUp] = str(string(followUp.Fields))
	}
	created, old, err := s.putNew(ctx, item, now)
	if err != nil {
		return false, fmt.Errorf("ddb: create batch %s: %w", id, err)
	}
	if got := getN(old, attrTotal); !created && got != int64(total) {
		return false, fmt.Errorf("ddb: create batch %s: exists with total %d, not %d", id, got, total)
	}
	return created, nil
}

// childCondition holds for a live batch with child :n that is not counted
// done yet.
const childCondition = "attribute_exists(#pk) AND #ttl > :now AND #total >= :n AND NOT contains(#done, :n)"

// MarkChildDone counts child n of batch id done, once: it is one
// conditional UpdateItem that adds n to the batch's done set and takes one
// off its remaining count only when n is not in the set yet, and removes
// n's failure if one was recorded. complete reports whether the batch is
// complete after the call, also when n was counted before, so that the
// redelivery of a last child whose follow-up was lost still learns it. An
// unknown (or expired) batch gives an error wrapping ErrNotFound.
func (s *Store) MarkChildDone(ctx context.Context, id string, n int) (complete bool, err error) {
	op := fmt.Sprintf("ddb: mark child %d of batch %s done", n, id)
	if n < 1 {
		return false, fmt.Errorf("%s: child numbers start at 1", op)
	}
	now := s.opts.Now().Unix()
	in := childUpdate(s.table, id, n, now, "ADD #done :set, #remaining :minus SET #last = :now REMOVE #failed.#child")
	in.ExpressionAttributeNames["#remaining"] = attrRemaining
	in.ExpressionAttributeNames["#last"] = attrLastDoneAt
	in.ExpressionAttributeValues[":set"] = &types.AttributeValueMemberNS{Value: []string{strconv.Itoa(n)}}
	in.ExpressionAttributeValues[":minus"] = num(-1)
	in.ReturnValues = types.ReturnValueUpdatedNew
	out, err := s.client.UpdateItem(ctx, in)
	if old, failed := conditionFailed(err); failed {
		if err := checkChild(old, n, now); err != nil {
			return false, fmt.Errorf("%s: %w", op, err)
		}
		return getN(old, attrRemaining) == 0, nil // counted before
	}
	if err != nil {
		return false, fmt.Errorf("%s: %w", op, err)
	}
	return getN(out.Attributes, attrRemaining) == 0, nil
}

// MarkChildFailed records that child n of batch id failed because of
// reason, replacing an earlier reason. The reason is cut to a few hundred
// bytes, and recorded empty when a thousand children of the batch are
// failed already, so the batch's item stays within DynamoDB's limit. It
// does nothing when n is counted done already. An unknown (or expired)
// batch gives an error wrapping ErrNotFound.
func (s *Store) MarkChildFailed(ctx context.Context, id string, n int, reason string) error {
	op := fmt.Sprintf("ddb: mark child %d of batch %s failed", n, id)
	if n < 1 {
		return fmt.Errorf("%s: child numbers start at 1", op)
	}
	now := s.opts.Now().Unix()
	in := childUpdate(s.table, id, n, now, "SET #failed.#child = :reason")
	*in.ConditionExpression += " AND size(#failed) < :max"
	in.ExpressionAttributeValues[":max"] = num(maxReasons)
	in.ExpressionAttributeValues[":reason"] = str(cut(reason, maxReasonBytes))
	_, err := s.client.UpdateItem(ctx, in)
	if old, failed := conditionFailed(err); failed {
		if err = checkChild(old, n, now); err == nil && !counted(old, n) {
			// No room for another reason: record the failure alone.
			in = childUpdate(s.table, id, n, now, "SET #failed.#child = :none")
			in.ExpressionAttributeValues[":none"] = str("")
			_, err = s.client.UpdateItem(ctx, in)
			if old, failed := conditionFailed(err); failed {
				err = checkChild(old, n, now) // done meanwhile
			}
		}
	}
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil // recorded, or done already
}

// childUpdate returns an update of child n of batch id in table under
// childCondition at now (Unix seconds), returning the old item when the
// condition fails. update may also use #failed and #child (n's key in
// failed); the caller adds any other names and values it uses.
func childUpdate(table, id string, n int, now int64, update string) *dynamodb.UpdateItemInput {
	return &dynamodb.UpdateItemInput{
		TableName:           aws.String(table),
		Key:                 batchKey(id),
		UpdateExpression:    aws.String(update),
		ConditionExpression: aws.String(childCondition),
		ExpressionAttributeNames: map[string]string{
			"#pk": attrPK, "#ttl": attrTTL, "#total": attrTotal, "#done": attrDone,
			"#failed": attrFailed, "#child": strconv.Itoa(n),
		},
		ExpressionAttributeValues:           map[string]types.AttributeValue{":n": num(int64(n)), ":now": num(now)},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}
}

// checkChild explains why childCondition failed on batch item old for
// child n at now (Unix seconds): an error wrapping ErrNotFound when the
// batch is unknown or expired, an error when n is past its total, nil when
// n is counted done already.
func checkChild(old map[string]types.AttributeValue, n int, now int64) error {
	if !live(old, now) {
		return fmt.Errorf("batch %w", ErrNotFound)
	}
	if total := getN(old, attrTotal); int64(n) > total {
		return fmt.Errorf("the batch has %d children", total)
	}
	return nil
}

// counted reports whether batch item holds child n in done.
func counted(item map[string]types.AttributeValue, n int) bool {
	set, ok := item[attrDone].(*types.AttributeValueMemberNS)
	return ok && slices.Contains(set.Value, strconv.Itoa(n))
}

// cut returns s, or its longest prefix of at most max bytes that does not
// split a UTF-8 character.
func cut(s string, max int) string {
	if len(s) <= max {
		return s
	}
	i := max
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i]
}

// GetBatch returns batch id, read in one strongly consistent GetItem, or
// an error wrapping ErrNotFound when it is unknown or expired.
func (s *Store) GetBatch(ctx context.Context, id string) (Batch, error) {
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.table),
		Key:            batchKey(id),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return Batch{}, fmt.Errorf("ddb: get batch %s: %w", id, err)
	}
	if !live(out.Item, s.opts.Now().Unix()) {
		return Batch{}, fmt.Errorf("ddb: get batch %s: %w", id, ErrNotFound)
	}
	return decodeBatch(id, out.Item)
}

func decodeBatch(id string, item map[string]types.AttributeValue) (Batch, error) {
	b := Batch{
		ID:             id,
		Total:          int(getN(item, attrTotal)),
		Failed:         map[int]string{},
		CreatedAt:      time.Unix(getN(item, attrCreatedAt), 0),
		FollowUpSentAt: unixOrZero(getN(item, attrSentAt)),
		DispatchedAt:   unixOrZero(getN(item, attrDispatchedAt)),
	}
	if typ := getS(item, attrFollowUpType); typ != "" {
		b.FollowUp = &FollowUpJob{Type: typ, Fields: []byte(getS(item, attrFollowUp))}
	}
	if set, ok := item[attrDone].(*types.AttributeValueMemberNS); ok {
		b.Done = make([]int, 0, len(set.Value))
		for _, v := range set.Value {
			n, err := strconv.Atoi(v)
			if err != nil {
				return Batch{}, fmt.Errorf("ddb: get batch %s: done holds %q: %w", id, v, err)
			}
			b.Done = append(b.Done, n)
		}
		slices.Sort(b.Done)
	}
	if m, ok := item[attrFailed].(*types.AttributeValueMemberM); ok {
		for k := range m.Value {
			n, err := strconv.Atoi(k)
			if err != nil {
				return Batch{}, fmt.Errorf("ddb: get batch %s: failed holds %q: %w", id, k, err)
			}
			b.Failed[n] = getS(m.Value, k)
		}
	}
	if b.Complete() {
		b.CompletedAt = time.Unix(getN(item, attrLastDoneAt), 0)
	}
	stall, err := decodeStall(id, item)
	if err != nil {
		return Batch{}, err
	}
	if !b.Dispatched() {
		b.Stall = stall
	}
	return b, nil
}

// unixOrZero returns the time of Unix seconds sec, or the zero time for 0
// (an attribute that is absent).
func unixOrZero(sec int64) time.Time {
	if sec == 0 {
		return time.Time{}
	}
	return time.Unix(sec, 0)
}

// MarkBatchDispatched records that the follow-up of batch id ran, once, and
// removes any stall recorded: a repeat keeps the first DispatchedAt and
// returns nil. A batch that is not complete gives an error wrapping
// ErrIncomplete; an unknown (or expired) batch an error wrapping
// ErrNotFound.
func (s *Store) MarkBatchDispatched(ctx context.Context, id string) error {
	now := s.opts.Now().Unix()
	in := followUpUpdate(s.table, id, now, "SET #dispatched = :now REMOVE #stalledChildren, #followUpFailed, #stallReason, #stalledAt")
	in.ExpressionAttributeNames["#stalledChildren"] = attrStalledChildren
	in.ExpressionAttributeNames["#followUpFailed"] = attrFollowUpFailed
	in.ExpressionAttributeNames["#stallReason"] = attrStallReason
	in.ExpressionAttributeNames["#stalledAt"] = attrStalledAt
	_, err := s.client.UpdateItem(ctx, in)
	if err := followUpError(err, now); err != nil {
		return fmt.Errorf("ddb: mark batch %s dispatched: %w", id, err)
	}
	return nil // recorded, or dispatched before
}

// followUpUpdate returns an update of batch id in table that holds only
// while the batch is live, complete and not dispatched at now (Unix
// seconds), returning the old item when it does not. update may use
// #dispatched and :now; the caller adds any other names and values.
func followUpUpdate(table, id string, now int64, update string) *dynamodb.UpdateItemInput {
	return &dynamodb.UpdateItemInput{
		TableName:        aws.String(table),
		Key:              batchKey(id),
		UpdateExpression: aws.String(update),
		ConditionExpression: aws.String("attribute_exists(#pk) AND #ttl > :now" +
			" AND #remaining = :zero AND attribute_not_exists(#dispatched)"),
		ExpressionAttributeNames: map[string]string{
			"#pk": attrPK, "#ttl": attrTTL, "#remaining": attrRemaining, "#dispatched": attrDispatchedAt,
		},
		ExpressionAttributeValues:           map[string]types.AttributeValue{":now": num(now), ":zero": num(0)},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}
}

// followUpError explains the error of a followUpUpdate at now: nil when it
// succeeded or the batch was dispatched already, an error wrapping
// ErrNotFound for an unknown or expired batch, one wrapping ErrIncomplete
// for a batch with children not done, and err otherwise.
func followUpError(err error, now int64) error {
	old, failed := conditionFailed(err)
	switch {
	case !failed:
		return err
	case !live(old, now):
		return ErrNotFound
	case getN(old, attrRemaining) != 0:
		return fmt.Errorf("%d of its %d children: %w", getN(old, attrRemaining), getN(old, attrTotal), ErrIncomplete)
	}
	return nil // dispatched before
}

// FollowUpClaim is the outcome of ClaimFollowUp.
type FollowUpClaim struct {
	// Claimed reports that the caller holds the claim and must enqueue
	// the follow-up, then call MarkFollowUpSent (or ReleaseFollowUp).
	Claimed bool
	// Sent reports that the follow-up was enqueued already (or ran).
	Sent bool
	// Until is when the claim of the worker holding it ends, when neither
	// Claimed nor Sent.
	Until time.Time
	// Batch is the batch as the call found it (after it, when Claimed).
	Batch Batch
}

// ClaimFollowUp claims, for lease, the enqueuing of the follow-up of batch
// id, which must be complete: one conditional UpdateItem that holds when
// the follow-up was neither enqueued nor run yet and no other claim is
// live. A claim
// whose holder died ends with its lease (whole seconds, rounded up). A
// batch with children not done gives an error wrapping ErrIncomplete, an
// unknown (or expired) one an error wrapping ErrNotFound.
func (s *Store) ClaimFollowUp(ctx context.Context, id string, lease time.Duration) (FollowUpClaim, error) {
	op := fmt.Sprintf("ddb: claim the follow-up of batch %s", id)
	now := s.opts.Now()
	until := now.Add(lease)
	in := &dynamodb.UpdateItemInput{
		TableName:        aws.String(s.table),
		Key:              batchKey(id),
		UpdateExpression: aws.String("SET #sending = :until"),
		ConditionExpression: aws.String("attribute_exists(#pk) AND #ttl > :now AND #remaining = :zero" +
			" AND attribute_not_exists(#sent) AND attribute_not_exists(#dispatched)" +
			" AND (attribute_not_exists(#sending) OR #sending <= :now)"),
		ExpressionAttributeNames: map[string]string{
			"#pk": attrPK, "#ttl": attrTTL, "#remaining": attrRemaining, "#sent": attrSentAt, "#sending": attrSending,
			"#dispatched": attrDispatchedAt,
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":now": num(now.Unix()), ":zero": num(0), ":until": num(epoch(until)),
		},
		ReturnValues:                        types.ReturnValueAllNew,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}
	out, err := s.client.UpdateItem(ctx, in)
	old, failed := conditionFailed(err)
	switch {
	case failed && !live(old, now.Unix()):
		return FollowUpClaim{}, fmt.Errorf("%s: %w", op, ErrNotFound)
	case failed && getN(old, attrRemaining) != 0:
		return FollowUpClaim{}, fmt.Errorf("%s: %d of its %d children: %w", op, getN(old, attrRemaining), getN(old, attrTotal), ErrIncomplete)
	case err != nil && !failed:
		return FollowUpClaim{}, fmt.Errorf("%s: %w", op, err)
	}
	item := old
	if !failed {
		item = out.Attributes
	}
	b, err := decodeBatch(id, item)
	if err != nil {
		return FollowUpClaim{}, err
	}
	c := FollowUpClaim{Claimed: !failed, Sent: !b.FollowUpSentAt.IsZero() || b.Dispatched(), Batch: b}
	if failed && !c.Sent {
		c.Until = time.Unix(getN(old, attrSending), 0)
	}
	return c, nil
}

// MarkFollowUpSent records that the follow-up of batch id was enqueued,
// and ends the claim on it. A repeat keeps the first time.
func (s *Store) MarkFollowUpSent(ctx context.Context, id string) error {
	return s.settleFollowUp(ctx, id, "SET #sent = :now REMOVE #sending", "mark the follow-up of batch %s sent")
}

// ReleaseFollowUp ends the claim on the follow-up of batch id, not sent,
// so that another worker may enqueue it at once.
func (s *Store) ReleaseFollowUp(ctx context.Context, id string) error {
	return s.settleFollowUp(ctx, id, "REMOVE #sending", "release the follow-up of batch %s")
}

// settleFollowUp applies update (which may use #sent, #sending and :now)
// to batch id unless its follow-up was recorded sent; what describes the
// call in errors, with the batch's id for %s.
func (s *Store) settleFollowUp(ctx context.Context, id, update, what string) error {
	in := &dynamodb.UpdateItemInput{
		TableName:                aws.String(s.table),
		Key:                      batchKey(id),
		UpdateExpression:         aws.String(update),
		ConditionExpression:      aws.String("attribute_exists(#pk) AND attribute_not_exists(#sent)"),
		ExpressionAttributeNames: map[string]string{"#pk": attrPK, "#sent": attrSentAt, "#sending": attrSending},
	}
	if strings.Contains(update, ":now") { // DynamoDB refuses a value the expressions do not use
		in.ExpressionAttributeValues = map[string]types.AttributeValue{":now": num(s.opts.Now().Unix())}
	}
	_, err := s.client.UpdateItem(ctx, in)
	if _, failed := conditionFailed(err); failed {
		return nil // sent before (or the batch is gone: nothing to settle)
	}
	if err != nil {
		return fmt.Errorf(what+": %w", id, err)
	}
	return nil
}
