package ddb

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/busywork/busywork/jobs"
)

// tokenBytes is how many random bytes a magic-link token carries.
const tokenBytes = 32

const skToken = "TOKEN"

// tokenKey returns the key of the item that stands for raw, a token's
// bytes: only their SHA-256 is stored.
func tokenKey(raw []byte) map[string]types.AttributeValue {
	sum := sha256.Sum256(raw)
	return key("TOKEN#"+hex.EncodeToString(sum[:]), skToken)
}

// CreateToken stores a new magic-link token for the normalised form of
// email, valid for ttl (DefaultTokenTTL when ttl <= 0), and returns it:
// 32 random bytes, base64url-encoded without padding (43 characters, safe
// in a URL as they are). The table keeps only the token's SHA-256.
func (s *Store) CreateToken(ctx context.Context, email string, ttl time.Duration) (string, error) {
	email = jobs.NormalizeEmail(email)
	if email == "" {
		return "", errors.New("ddb: create token: email is empty")
	}
	if ttl <= 0 {
		ttl = DefaultTokenTTL
	}
	raw := make([]byte, tokenBytes)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("ddb: create token: %w", err)
	}
	now := s.opts.Now()
	expires := epoch(now.Add(ttl))
	item := tokenKey(raw)
	item["email"] = str(email)
	item["created_at"] = num(now.Unix())
	item["expires_at"] = num(expires)
	item[attrTTL] = num(expires)
	// The condition guards against the (2^-256) chance of reusing a live
	// token's hash; a failure there is an error like any other.
	_, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                aws.String(s.table),
		Item:                     item,
		ConditionExpression:      aws.String("attribute_not_exists(#pk)"),
		ExpressionAttributeNames: map[string]string{"#pk": attrPK},
	})
	if err != nil {
		return "", fmt.Errorf("ddb: create token: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(raw), nil
}

// ConsumeToken spends token and returns the email address it was made
// for. It is one conditional write that succeeds only for a known token
// that has not expired at now and was never used, so of any number of
// concurrent calls with one token, at most one succeeds. Every other case,
// including a token that is not even well-formed, returns an error wrapping
// ErrInvalidToken that does not say which case it was.
func (s *Store) ConsumeToken(ctx context.Context, token string, now time.Time) (string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(raw) != tokenBytes {
		return "", ErrInvalidToken
	}
	out, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           aws.String(s.table),
		Key:                 tokenKey(raw),
		UpdateExpression:    aws.String("SET #used = :now"),
		ConditionExpression: aws.String("attribute_exists(#pk) AND #exp > :now AND attribute_not_exists(#used)"),
		ExpressionAttributeNames: map[string]string{
			"#pk": attrPK, "#exp": "expires_at", "#used": "used_at",
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{":now": num(now.Unix())},
		ReturnValues:              types.ReturnValueAllNew,
	})
	if _, failed := conditionFailed(err); failed {
		return "", ErrInvalidToken
	}
	if err != nil {
		return "", fmt.Errorf("ddb: consume token: %w", err)
	}
	return getS(out.Attributes, "email"), nil
}
