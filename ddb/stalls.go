package ddb

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// The stall of a batch, kept on its item until MarkBatchDispatched:
//
//	stalled_children  number set: children counted done whose enqueue of the follow-up failed on their last receive
//	follow_up_failed  true when the follow-up job itself failed for good
//	stall_reason      the last error recorded, cut to a few hundred bytes
//	stalled_at        when it was last recorded
const (
	attrStalledChildren = "stalled_children"
	attrFollowUpFailed  = "follow_up_failed"
	attrStallReason     = "stall_reason"
	attrStalledAt       = "stalled_at"
)

// FollowUp stands for a batch's follow-up job, as opposed to a child, in
// MarkBatchStalled.
const FollowUp = 0

// ErrIncomplete means a batch has children that are not done.
var ErrIncomplete = errors.New("ddb: the batch has children that are not done")

// Stall is why a complete batch's follow-up has not run, as the workers
// recorded it: a child that counted itself done could not enqueue the
// follow-up on its last receive (its job then went to a dead-letter
// queue), or the follow-up job itself failed for good. Either way no
// retry is coming: replaying the dead letters, or enqueuing the follow-up
// under its own job id again, finishes the batch.
type Stall struct {
	// Children lists the children, in increasing order, whose enqueue of
	// the follow-up failed on their last receive.
	Children []int
	// FollowUp reports that the follow-up job itself failed for good: on
	// its last receive, or with a permanent error.
	FollowUp bool
	// Reason is the last error recorded.
	Reason string
	// At is when it was last recorded.
	At time.Time
}

// MarkBatchStalled records on batch id, which must be complete and not
// dispatched, why its follow-up has not run: child n (from 1) counted
// itself done but could not enqueue the follow-up on its last receive, or,
// for n == FollowUp, the follow-up job itself failed for good. Each call
// adds its child to the stall and replaces the reason. It does nothing
// when the batch was dispatched meanwhile; a batch with children not done
// gives an error wrapping ErrIncomplete, an unknown (or expired) one an
// error wrapping ErrNotFound.
func (s *Store) MarkBatchStalled(ctx context.Context, id string, n int, reason string) error {
	op := fmt.Sprintf("ddb: mark the follow-up of batch %s stalled", id)
	if n < FollowUp {
		return fmt.Errorf("%s: child numbers start at 1", op)
	}
	now := s.opts.Now().Unix()
	in := followUpUpdate(s.table, id, now, "SET #reason = :reason, #at = :now")
	in.ExpressionAttributeNames["#reason"] = attrStallReason
	in.ExpressionAttributeNames["#at"] = attrStalledAt
	in.ExpressionAttributeValues[":reason"] = str(cut(reason, maxReasonBytes))
	if n == FollowUp {
		*in.UpdateExpression += ", #followUp = :true"
		in.ExpressionAttributeNames["#followUp"] = attrFollowUpFailed
		in.ExpressionAttributeValues[":true"] = &types.AttributeValueMemberBOOL{Value: true}
	} else {
		*in.UpdateExpression += " ADD #children :child"
		in.ExpressionAttributeNames["#children"] = attrStalledChildren
		in.ExpressionAttributeValues[":child"] = &types.AttributeValueMemberNS{Value: []string{strconv.Itoa(n)}}
	}
	_, err := s.client.UpdateItem(ctx, in)
	if err := followUpError(err, now); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil // recorded, or dispatched meanwhile
}

// decodeStall reads the stall of batch item, or nil when none is recorded.
func decodeStall(id string, item map[string]types.AttributeValue) (*Stall, error) {
	if _, ok := item[attrStalledAt]; !ok {
		return nil, nil
	}
	st := &Stall{Reason: getS(item, attrStallReason), At: time.Unix(getN(item, attrStalledAt), 0)}
	if b, ok := item[attrFollowUpFailed].(*types.AttributeValueMemberBOOL); ok {
		st.FollowUp = b.Value
	}
	if set, ok := item[attrStalledChildren].(*types.AttributeValueMemberNS); ok {
		for _, v := range set.Value {
			n, err := strconv.Atoi(v)
			if err != nil {
				return nil, fmt.Errorf("ddb: get batch %s: %s holds %q: %w", id, attrStalledChildren, v, err)
			}
			st.Children = append(st.Children, n)
		}
		slices.Sort(st.Children)
	}
	return st, nil
}
