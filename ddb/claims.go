package ddb

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Claim is the outcome of ClaimJob.
type Claim struct {
	// Claimed is true when the caller now holds the job until LeaseUntil
	// and should run it, then call CompleteJob or ReleaseJob.
	Claimed bool
	// Done is true when an earlier attempt completed the job; Result is
	// what it recorded. The caller should skip the job and succeed.
	Done bool
	// Result is the result recorded by CompleteJob, when Done.
	Result string
	// Owner identifies this claim (when Claimed) for ReleaseJob.
	Owner string
	// LeaseUntil is when the lease of the attempt holding the job ends:
	// the caller's own when Claimed, another attempt's when neither
	// Claimed nor Done, which is when the job may be claimed again.
	LeaseUntil time.Time
}

const (
	skClaim       = "CLAIM"
	claimPending  = "pending"
	claimDone     = "done"
	defaultLease  = 5 * time.Minute
	attrStatus    = "status"
	attrOwner     = "owner"
	attrLease     = "lease_until"
	attrResult    = "result"
	attrClaimedAt = "claimed_at"
)

func claimKey(jobID string) map[string]types.AttributeValue {
	return key(pkJob+jobID, skClaim)
}

// ClaimJob takes the idempotency claim of job jobID for lease (5 minutes
// when lease <= 0), which should outlast the attempt's deadline. It is one
// conditional write that succeeds when the job has no claim, its claim has
// expired (ttl), or its claim is pending with a lease that has ended (its
// attempt died). Otherwise the returned Claim tells why not: Done, or held
// by another attempt until LeaseUntil. See the package comment for what
// claims guarantee.
func (s *Store) ClaimJob(ctx context.Context, jobID string, lease time.Duration) (Claim, error) {
	if jobID == "" {
		return Claim{}, errors.New("ddb: claim job: job id is empty")
	}
	if lease <= 0 {
		lease = defaultLease
	}
	owner, err := newOwner()
	if err != nil {
		return Claim{}, fmt.Errorf("ddb: claim job %s: %w", jobID, err)
	}
	now := s.opts.Now()
	leaseUntil := epoch(now.Add(lease))
	item := claimKey(jobID)
	item[attrStatus] = str(claimPending)
	item[attrOwner] = str(owner)
	item[attrClaimedAt] = num(now.Unix())
	item[attrLease] = num(leaseUntil)
	item[attrTTL] = num(epoch(now.Add(s.opts.JobRetention)))
	_, err = s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.table),
		Item:      item,
		ConditionExpression: aws.String("attribute_not_exists(#pk) OR #ttl <= :now" +
			" OR (#status = :pending AND #lease <= :now)"),
		ExpressionAttributeNames: map[string]string{
			"#pk": attrPK, "#ttl": attrTTL, "#status": attrStatus, "#lease": attrLease,
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":now": num(now.Unix()), ":pending": str(claimPending),
		},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if old, held := conditionFailed(err); held {
		return Claim{
			Done:       getS(old, attrStatus) == claimDone,
			Result:     getS(old, attrResult),
			LeaseUntil: time.Unix(getN(old, attrLease), 0),
		}, nil
	}
	if err != nil {
		return Claim{}, fmt.Errorf("ddb: claim job %s: %w", jobID, err)
	}
	return Claim{Claimed: true, Owner: owner, LeaseUntil: time.Unix(leaseUntil, 0)}, nil
}

// CompleteJob records job jobID as done with result, a short note such as
// the id SES gave an email, so that later ClaimJob calls return Done. It
// overwrites any claim the job has: however many attempts ran, one that
// finished makes the job done.
func (s *Store) CompleteJob(ctx context.Context, jobID, result string) error {
	if jobID == "" {
		return errors.New("ddb: complete job: job id is empty")
	}
	now := s.opts.Now()
	_, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:        aws.String(s.table),
		Key:              claimKey(jobID),
		UpdateExpression: aws.String("SET #status = :done, #result = :result, #ttl = :ttl REMOVE #owner"),
		ExpressionAttributeNames: map[string]string{
			"#status": attrStatus, "#result": attrResult, "#ttl": attrTTL, "#owner": attrOwner,
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":done":   str(claimDone),
			":result": str(result),
			":ttl":    num(epoch(now.Add(s.opts.JobRetention))),
		},
	})
	if err != nil {
		return fmt.Errorf("ddb: complete job %s: %w", jobID, err)
	}
	return nil
}

// RenewJob extends the claim that ClaimJob returned with owner to lease
// from now (5 minutes when lease <= 0) and returns its new end. A
// long-running attempt renews a short lease while it runs, so that its
// claim is never taken over while it lives, and a dead attempt's claim
// runs out soon. It is one conditional write that succeeds only while the
// claim is pending and still owner's; otherwise it returns an error
// wrapping ErrClaimLost, and the caller no longer holds the job.
func (s *Store) RenewJob(ctx context.Context, jobID, owner string, lease time.Duration) (time.Time, error) {
	if lease <= 0 {
		lease = defaultLease
	}
	leaseUntil := epoch(s.opts.Now().Add(lease))
	_, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(s.table),
		Key:                      claimKey(jobID),
		UpdateExpression:         aws.String("SET #lease = :until"),
		ConditionExpression:      aws.String("#status = :pending AND #owner = :owner"),
		ExpressionAttributeNames: map[string]string{"#lease": attrLease, "#status": attrStatus, "#owner": attrOwner},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":until": num(leaseUntil), ":pending": str(claimPending), ":owner": str(owner),
		},
	})
	if _, lost := conditionFailed(err); lost {
		return time.Time{}, fmt.Errorf("ddb: renew job %s: %w", jobID, ErrClaimLost)
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("ddb: renew job %s: %w", jobID, err)
	}
	return time.Unix(leaseUntil, 0), nil
}

// ReleaseJob gives up the claim that ClaimJob returned with owner, so that
// the job's next delivery may run at once instead of after the lease. Call
// it when the attempt failed before its side effect could have happened
// or, at the price of a possible repeat, when that is unknown. It does
// nothing when the claim is done or held by another owner.
func (s *Store) ReleaseJob(ctx context.Context, jobID, owner string) error {
	_, err := s.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                aws.String(s.table),
		Key:                      claimKey(jobID),
		ConditionExpression:      aws.String("#status = :pending AND #owner = :owner"),
		ExpressionAttributeNames: map[string]string{"#status": attrStatus, "#owner": attrOwner},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pending": str(claimPending), ":owner": str(owner),
		},
	})
	if _, notOurs := conditionFailed(err); notOurs {
		return nil
	}
	if err != nil {
		return fmt.Errorf("ddb: release job %s: %w", jobID, err)
	}
	return nil
}

func newOwner() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return hex.EncodeToString(b[:]), nil
}
