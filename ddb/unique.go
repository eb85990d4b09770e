package ddb

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Unique keys: a producer sending a job with a unique key first records
// the key here for a window, with the job's id; a second send of the key
// within the window finds the record and sends nothing (package
// producer's Unique option).

const (
	skUnique  = "UNIQUE"
	attrJobID = "job_id"
)

// uniqueKey returns the key of key's item. The table keeps only key's
// SHA-256, since a key may hold what it should not show (an address).
func uniqueKey(key string) map[string]types.AttributeValue {
	sum := sha256.Sum256([]byte(key))
	return map[string]types.AttributeValue{attrPK: str(skUnique + "#" + hex.EncodeToString(sum[:])), attrSK: str(skUnique)}
}

// ClaimUnique records key for job jobID for window from now (its end
// rounded up to a whole second), unless a live record of key exists. It
// returns an empty heldBy when it recorded the key, or when the record
// found is jobID's own (the SDK retried a put that had landed); otherwise
// heldBy is the job id of the record found, which it leaves as it was.
// until is when the record in force ends: this call's or the one found.
//
// It is one conditional PutItem. The condition compares the record's ttl
// with now instead of relying on its absence, since DynamoDB deletes
// expired items days late (and DynamoDB Local never), so a key is free
// again as soon as its window ends.
func (s *Store) ClaimUnique(ctx context.Context, key, jobID string, window time.Duration) (heldBy string, until time.Time, err error) {
	switch {
	case key == "":
		return "", time.Time{}, errors.New("ddb: claim unique key: key is empty")
	case jobID == "":
		return "", time.Time{}, errors.New("ddb: claim unique key: job id is empty")
	case window <= 0:
		return "", time.Time{}, fmt.Errorf("ddb: claim unique key: window %v is not positive", window)
	}
	now := s.opts.Now()
	end := epoch(now.Add(window))
	item := uniqueKey(key)
	item[attrJobID] = str(jobID)
	item[attrCreatedAt] = num(now.Unix())
	item[attrTTL] = num(end)
	created, old, err := s.putNew(ctx, item, now)
	switch {
	case err != nil:
		return "", time.Time{}, fmt.Errorf("ddb: claim unique key for job %s: %w", jobID, err)
	case created || getS(old, attrJobID) == jobID:
		return "", time.Unix(end, 0), nil
	}
	return getS(old, attrJobID), time.Unix(getN(old, attrTTL), 0), nil
}

// ReleaseUnique deletes the record of key if it is job jobID's, so that
// the key is free at once: for a send that failed after ClaimUnique. It
// does nothing when key has no record or another job's.
func (s *Store) ReleaseUnique(ctx context.Context, key, jobID string) error {
	_, err := s.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 aws.String(s.table),
		Key:                       uniqueKey(key),
		ConditionExpression:       aws.String("#job = :job"),
		ExpressionAttributeNames:  map[string]string{"#job": attrJobID},
		ExpressionAttributeValues: map[string]types.AttributeValue{":job": str(jobID)},
	})
	if _, notOurs := conditionFailed(err); notOurs {
		return nil
	}
	if err != nil {
		return fmt.Errorf("ddb: release unique key of job %s: %w", jobID, err)
	}
	return nil
}
