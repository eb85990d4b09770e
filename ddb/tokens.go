package ddb

import (
	"context"
	"crypto/rand"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// CreateToken stores a new magic-link token for the normalised form of
// email, valid for ttl (DefaultTokenTTL when ttl <= 0), and returns it:
// 32 random bytes, base64url-encoded without padding (43 characters, safe
// in a URL as they are). The table keeps only the token's SHA-256.
func (s *Store) CreateToken(ctx context.Context, email string, ttl time.Duration) (string, error) {
	if ttl <= 0 {
		ttl = DefaultTokenTTL
	}
	return s.putSecret(ctx, skToken, email, ttl)
}

// PeekToken returns the email address token was made for without spending
// it, so that a page can ask "sign in as ...?" before the token is used. A
// token that ConsumeToken would refuse (unknown, expired at now, used, or
// not well-formed) returns an error wrapping ErrInvalidToken.
func (s *Store) PeekToken(ctx context.Context, token string, now time.Time) (string, error) {
	raw, ok := decodeSecret(token)
	if !ok {
		return "", ErrInvalidToken
	}
	item, err := s.getSecret(ctx, skToken, raw, now)
	if err != nil {
		return "", fmt.Errorf("ddb: peek token: %w", err)
	}
	if item == nil || item["used_at"] != nil {
		return "", ErrInvalidToken
	}
	return getS(item, "email"), nil
}

// ConsumeToken spends token and returns the email address it was made
// for. It is one conditional write that succeeds only for a known token
// that has not expired at now and was never used, so of any number of
// concurrent calls with one token, at most one succeeds. Every other case,
// including a token that is not even well-formed, returns an error wrapping
// ErrInvalidToken that does not say which case it was.
//
// The write marks the token with an id of this call (used_by), so that
// when the SDK retries it after an attempt that landed but whose answer
// came late or not at all (an attempt timeout, a lost connection), the
// retry's failed condition is recognised as this call's own success.
func (s *Store) ConsumeToken(ctx context.Context, token string, now time.Time) (string, error) {
	raw, ok := decodeSecret(token)
	if !ok {
		return "", ErrInvalidToken
	}
	call := rand.Text()
	out, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           aws.String(s.table),
		Key:                 secretKey(skToken, raw),
		UpdateExpression:    aws.String("SET #used = :now, #by = :call"),
		ConditionExpression: aws.String("attribute_exists(#pk) AND #exp > :now AND attribute_not_exists(#used)"),
		ExpressionAttributeNames: map[string]string{
			"#pk": attrPK, "#exp": "expires_at", "#used": "used_at", "#by": "used_by",
		},
		ExpressionAttributeValues:           map[string]types.AttributeValue{":now": num(now.Unix()), ":call": str(call)},
		ReturnValues:                        types.ReturnValueAllNew,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if old, failed := conditionFailed(err); failed {
		if getS(old, "used_by") == call {
			return getS(old, "email"), nil
		}
		return "", ErrInvalidToken
	}
	if err != nil {
		return "", fmt.Errorf("ddb: consume token: %w", err)
	}
	return getS(out.Attributes, "email"), nil
}
