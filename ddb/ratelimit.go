package ddb

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/busywork/busywork/jobs"
)

// rateMargin keeps a window's counter a while past the window's end, so
// DynamoDB's TTL never races a late write to it.
const rateMargin = 10 * time.Minute

// AllowLink counts one magic link for the normalised form of email in the
// fixed window (Options.LinkWindow, aligned to the Unix epoch) that holds
// now, and reports whether it was within Options.LinkLimit. A refused
// link is not counted. The count is one conditional ADD on a counter item
// per address and window, whose ttl is the window's end plus a margin; a
// new window starts from zero.
func (s *Store) AllowLink(ctx context.Context, email string, now time.Time) (bool, error) {
	email = jobs.NormalizeEmail(email)
	if email == "" {
		return false, errors.New("ddb: allow link: email is empty")
	}
	start, end := window(now, s.opts.LinkWindow)
	_, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(s.table),
		Key:                      key("RATE#"+email, "WINDOW#"+strconv.FormatInt(start, 10)),
		UpdateExpression:         aws.String("ADD #count :one SET #ttl = :ttl"),
		ConditionExpression:      aws.String("attribute_not_exists(#count) OR #count < :limit"),
		ExpressionAttributeNames: map[string]string{"#count": "count", "#ttl": attrTTL},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":one":   num(1),
			":limit": num(int64(s.opts.LinkLimit)),
			":ttl":   num(end + int64(rateMargin/time.Second)),
		},
	})
	if _, refused := conditionFailed(err); refused {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("ddb: allow link: %w", err)
	}
	return true, nil
}

// window returns the start and end, in Unix seconds, of the window of
// length d (whole seconds, at least one) that holds t.
func window(t time.Time, d time.Duration) (start, end int64) {
	w := max(int64(d/time.Second), 1)
	now := t.Unix()
	start = now - now%w
	if now < 0 && now%w != 0 {
		start -= w
	}
	return start, start + w
}
