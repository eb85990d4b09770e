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

// limitKeep keeps a rate limit's item this long past its next free start,
// so that DynamoDB's TTL removes only limits nobody uses.
const limitKeep = 24 * time.Hour

const attrNext = "next_start"

// MoveLimit sets the next free start of the fleet-wide rate limit name
// (package ratelimit) to next, if it is still prev: one conditional
// UpdateItem. A zero prev stands for a limit whose item does not exist
// yet. When the limit has moved on meanwhile, it returns moved false and
// the next free start the item holds (zero if it has none), for the
// caller to try again from.
func (s *Store) MoveLimit(ctx context.Context, name string, prev, next time.Time) (moved bool, current time.Time, err error) {
	if name == "" {
		return false, time.Time{}, errors.New("ddb: move limit: name is empty")
	}
	cond := "#next = :prev"
	values := map[string]types.AttributeValue{
		":next": num(next.UnixNano()),
		":ttl":  num(epoch(next.Add(limitKeep))),
	}
	if prev.IsZero() {
		cond = "attribute_not_exists(#next)"
	} else {
		values[":prev"] = num(prev.UnixNano())
	}
	_, err = s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                           aws.String(s.table),
		Key:                                 key("LIMIT#"+name, "LIMIT"),
		UpdateExpression:                    aws.String("SET #next = :next, #ttl = :ttl"),
		ConditionExpression:                 aws.String(cond),
		ExpressionAttributeNames:            map[string]string{"#next": attrNext, "#ttl": attrTTL},
		ExpressionAttributeValues:           values,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if old, failed := conditionFailed(err); failed {
		if n := getN(old, attrNext); n != 0 {
			current = time.Unix(0, n)
		}
		return false, current, nil
	}
	if err != nil {
		return false, time.Time{}, fmt.Errorf("ddb: move limit %s: %w", name, err)
	}
	return true, next, nil
}
