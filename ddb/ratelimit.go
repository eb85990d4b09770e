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
)

// rateMargin keeps a window's counter a while past the window's end, so
// DynamoDB's TTL never races a late write to it.
const rateMargin = 10 * time.Minute

// AllowLink counts job jobID's magic link for the normalised form of
// email in the fixed window (Options.LinkWindow, aligned to the Unix
// epoch) that holds now, and reports whether it was within
// Options.LinkLimit. A job counts once however often it asks: the window's
// item holds the set of job ids counted, and one conditional ADD puts
// jobID in it only while the set is under the limit, or allows it again
// when it is there already, so a retried or redelivered job is allowed
// again without counting twice. A refused job is not counted. The item's
// ttl is the window's end plus a margin; a new window starts from zero.
func (s *Store) AllowLink(ctx context.Context, email, jobID string, now time.Time) (bool, error) {
	email = NormalizeEmail(email)
	switch {
	case email == "":
		return false, errors.New("ddb: allow link: email is empty")
	case jobID == "":
		return false, errors.New("ddb: allow link: job id is empty")
	}
	start, end := window(now, s.opts.LinkWindow)
	_, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(s.table),
		Key:                      key("RATE#"+email, "WINDOW#"+strconv.FormatInt(start, 10)),
		UpdateExpression:         aws.String("ADD #jobs :job SET #ttl = :ttl"),
		ConditionExpression:      aws.String("attribute_not_exists(#jobs) OR contains(#jobs, :id) OR size(#jobs) < :limit"),
		ExpressionAttributeNames: map[string]string{"#jobs": "jobs", "#ttl": attrTTL},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":job":   &types.AttributeValueMemberSS{Value: []string{jobID}},
			":id":    str(jobID),
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
