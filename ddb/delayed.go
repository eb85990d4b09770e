package ddb

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// The states of a delayed job's record (DelayedJob.Status).
const (
	// DelayScheduled: sent with a delay and not started; it can be
	// cancelled.
	DelayScheduled = "scheduled"
	// DelayCancelled: cancelled before it started; it never runs.
	DelayCancelled = "cancelled"
	// DelayStarted: a delivery of it passed its due time and started it;
	// it can no longer be cancelled.
	DelayStarted = "started"
)

// Errors of the delayed jobs' records; compare with errors.Is.
var (
	// ErrJobCancelled means a delayed job was cancelled: it must not run,
	// and a send under its id is refused.
	ErrJobCancelled = errors.New("ddb: job cancelled")
	// ErrJobStarted means a delayed job started already: it can no longer
	// be cancelled.
	ErrJobStarted = errors.New("ddb: job started already")
)

// DelayedJob is the record of a job sent with a delay: what cancelling it
// and starting it decide on.
type DelayedJob struct {
	ID   string
	Type string
	// DueAt is when the job is due to start, to the second.
	DueAt time.Time
	// Status is DelayScheduled, DelayCancelled or DelayStarted.
	Status string
	// CreatedAt is when the record was written by the send.
	CreatedAt time.Time
	// CancelledAt and StartedAt are when it was cancelled or first
	// started; zero if it was not.
	CancelledAt, StartedAt time.Time
}

const (
	pkJob         = "JOB#"
	skDelayed     = "DELAYED"
	attrJobType   = "job_type"
	attrDueAt     = "due_at"
	attrCancelled = "cancelled_at"
	attrStarted   = "started_at"
)

func delayedKey(jobID string) map[string]types.AttributeValue {
	return key(pkJob+jobID, skDelayed)
}

// PutDelayedJob records job jobID, of type jobType, as scheduled to start
// at due, so that CancelDelayedJob can cancel it until StartDelayedJob
// starts it. The record is kept until Options.JobRetention after due. A
// job recorded and still scheduled is recorded again (a send tried
// twice); one that started is left as it is; one that was cancelled is
// not recorded again: the error wraps ErrJobCancelled, and the caller must
// not send it.
func (s *Store) PutDelayedJob(ctx context.Context, jobID, jobType string, due time.Time) error {
	op := "ddb: record delayed job " + jobID
	if jobID == "" || jobType == "" {
		return fmt.Errorf("%s: job id and type are required", op)
	}
	now := s.opts.Now()
	item := delayedKey(jobID)
	item[attrJobType] = str(jobType)
	item[attrDueAt] = num(epoch(due))
	item[attrStatus] = str(DelayScheduled)
	item[attrCreatedAt] = num(now.Unix())
	item[attrTTL] = num(epoch(due.Add(s.opts.JobRetention)))
	_, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                           aws.String(s.table),
		Item:                                item,
		ConditionExpression:                 aws.String("attribute_not_exists(#pk) OR #ttl <= :now OR #status = :scheduled"),
		ExpressionAttributeNames:            map[string]string{"#pk": attrPK, "#ttl": attrTTL, "#status": attrStatus},
		ExpressionAttributeValues:           map[string]types.AttributeValue{":now": num(now.Unix()), ":scheduled": str(DelayScheduled)},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if old, exists := conditionFailed(err); exists {
		if getS(old, attrStatus) == DelayCancelled {
			return fmt.Errorf("%s: %w at %s", op, ErrJobCancelled, time.Unix(getN(old, attrCancelled), 0).UTC().Format(time.RFC3339))
		}
		return nil // started: its copies run it once
	}
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	return nil
}

// CancelDelayedJob cancels job jobID, recorded by PutDelayedJob, unless it
// started: one conditional update, so that a cancel and a start racing
// each other are decided once, one way. It returns the job as cancelled.
// Cancelling a cancelled job changes nothing and succeeds. A job that
// started gives an error wrapping ErrJobStarted; one with no live record
// (an unknown id, a job sent without a delay or without a store, or
// expired) an error wrapping ErrNotFound.
func (s *Store) CancelDelayedJob(ctx context.Context, jobID string) (DelayedJob, error) {
	j, moved, err := s.moveDelayed(ctx, "cancel", jobID, DelayCancelled, attrCancelled, "=", DelayScheduled)
	switch {
	case err != nil:
		return DelayedJob{}, err
	case moved, j.Status == DelayCancelled:
		return j, nil
	}
	return j, fmt.Errorf("ddb: cancel delayed job %s: %w at %s", jobID, ErrJobStarted, j.StartedAt.UTC().Format(time.RFC3339))
}

// StartDelayedJob records that a delivery of job jobID starts it, unless it
// was cancelled: then the error wraps ErrJobCancelled and the job must not
// run. It is one conditional update; every delivery of the job (a retry, a
// second copy) may call it, and the first start's time is kept. A job with
// no live record gives an error wrapping ErrNotFound: it was sent without
// a store, so nobody can have cancelled it.
func (s *Store) StartDelayedJob(ctx context.Context, jobID string) (DelayedJob, error) {
	j, moved, err := s.moveDelayed(ctx, "start", jobID, DelayStarted, attrStarted, "<>", DelayCancelled)
	if err != nil || moved {
		return j, err
	}
	return j, fmt.Errorf("ddb: start delayed job %s: %w at %s", jobID, ErrJobCancelled, j.CancelledAt.UTC().Format(time.RFC3339))
}

// moveDelayed sets the status of job jobID's live record to to, and its
// time attribute at to now unless it has one, when its status is (op
// "=") or is not (op "<>") from. It returns the record after the move or,
// with moved false, the record as it was; with no live record, an error
// wrapping ErrNotFound. verb names the move in errors.
func (s *Store) moveDelayed(ctx context.Context, verb, jobID, to, at, op, from string) (j DelayedJob, moved bool, err error) {
	now := s.opts.Now().Unix()
	out, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                           aws.String(s.table),
		Key:                                 delayedKey(jobID),
		UpdateExpression:                    aws.String("SET #status = :to, #at = if_not_exists(#at, :now)"),
		ConditionExpression:                 aws.String("#ttl > :now AND #status " + op + " :from"),
		ExpressionAttributeNames:            map[string]string{"#status": attrStatus, "#at": at, "#ttl": attrTTL},
		ExpressionAttributeValues:           map[string]types.AttributeValue{":now": num(now), ":to": str(to), ":from": str(from)},
		ReturnValues:                        types.ReturnValueAllNew,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	old, failed := conditionFailed(err)
	switch {
	case failed && !live(old, now):
		return DelayedJob{}, false, fmt.Errorf("ddb: %s delayed job %s: %w", verb, jobID, ErrNotFound)
	case failed:
		return decodeDelayed(jobID, old), false, nil
	case err != nil:
		return DelayedJob{}, false, fmt.Errorf("ddb: %s delayed job %s: %w", verb, jobID, err)
	}
	return decodeDelayed(jobID, out.Attributes), true, nil
}

func decodeDelayed(id string, item map[string]types.AttributeValue) DelayedJob {
	return DelayedJob{
		ID:          id,
		Type:        getS(item, attrJobType),
		DueAt:       time.Unix(getN(item, attrDueAt), 0),
		Status:      getS(item, attrStatus),
		CreatedAt:   time.Unix(getN(item, attrCreatedAt), 0),
		CancelledAt: unixOrZero(getN(item, attrCancelled)),
		StartedAt:   unixOrZero(getN(item, attrStarted)),
	}
}
