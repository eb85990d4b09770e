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

// Session items (see the package comment for the other kinds):
//
//	session          SESSION#<sha256 hex>   SESSION              email, created_at, expires_at, ttl
//
// keyed, like tokens, by the SHA-256 of the id's random bytes.

// sessionBytes is how many random bytes a session id carries.
const sessionBytes = 32

const skSession = "SESSION"

// DefaultSessionTTL is how long a session lasts when CreateSession is
// given no ttl.
const DefaultSessionTTL = 24 * time.Hour

// sessionKey returns the key of the item that stands for raw, a session
// id's bytes: only their SHA-256 is stored.
func sessionKey(raw []byte) map[string]types.AttributeValue {
	sum := sha256.Sum256(raw)
	return key("SESSION#"+hex.EncodeToString(sum[:]), skSession)
}

// CreateSession stores a new login session for the normalised form of
// email, valid for ttl (DefaultSessionTTL when ttl <= 0), and returns its
// id: 32 random bytes, base64url-encoded without padding, fit for a cookie.
// The table keeps only the id's SHA-256.
func (s *Store) CreateSession(ctx context.Context, email string, ttl time.Duration) (string, error) {
	email = jobs.NormalizeEmail(email)
	if email == "" {
		return "", errors.New("ddb: create session: email is empty")
	}
	if ttl <= 0 {
		ttl = DefaultSessionTTL
	}
	raw := make([]byte, sessionBytes)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("ddb: create session: %w", err)
	}
	now := s.opts.Now()
	expires := epoch(now.Add(ttl))
	item := sessionKey(raw)
	item["email"] = str(email)
	item["created_at"] = num(now.Unix())
	item["expires_at"] = num(expires)
	item[attrTTL] = num(expires)
	_, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                aws.String(s.table),
		Item:                     item,
		ConditionExpression:      aws.String("attribute_not_exists(#pk)"),
		ExpressionAttributeNames: map[string]string{"#pk": attrPK},
	})
	if err != nil {
		return "", fmt.Errorf("ddb: create session: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(raw), nil
}

// GetSession returns the email address of the session id, or an error
// wrapping ErrNotFound when the id is malformed, unknown or expired at now.
func (s *Store) GetSession(ctx context.Context, id string, now time.Time) (string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(id)
	if err != nil || len(raw) != sessionBytes {
		return "", fmt.Errorf("ddb: get session: malformed id: %w", ErrNotFound)
	}
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.table),
		Key:            sessionKey(raw),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return "", fmt.Errorf("ddb: get session: %w", err)
	}
	if out.Item == nil || getN(out.Item, "expires_at") <= now.Unix() {
		return "", fmt.Errorf("ddb: get session: %w", ErrNotFound)
	}
	return getS(out.Item, "email"), nil
}
