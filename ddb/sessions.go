package ddb

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// Session items (see the package comment for the other kinds):
//
//	session          SESSION#<sha256 hex>   SESSION              email, created_at, expires_at, ttl
//
// keyed, like tokens, by the SHA-256 of the id's random bytes.

// DefaultSessionTTL is how long a session lasts when CreateSession is
// given no ttl.
const DefaultSessionTTL = 24 * time.Hour

// CreateSession stores a new login session for the normalised form of
// email, valid for ttl (DefaultSessionTTL when ttl <= 0), and returns its
// id: 32 random bytes, base64url-encoded without padding, fit for a cookie.
// The table keeps only the id's SHA-256.
func (s *Store) CreateSession(ctx context.Context, email string, ttl time.Duration) (string, error) {
	if ttl <= 0 {
		ttl = DefaultSessionTTL
	}
	return s.putSecret(ctx, skSession, email, ttl)
}

// GetSession returns the email address of the session id, or an error
// wrapping ErrNotFound when the id is malformed, unknown or expired at now.
func (s *Store) GetSession(ctx context.Context, id string, now time.Time) (string, error) {
	raw, ok := decodeSecret(id)
	if !ok {
		return "", fmt.Errorf("ddb: get session: malformed id: %w", ErrNotFound)
	}
	item, err := s.getSecret(ctx, skSession, raw, now)
	if err != nil {
		return "", fmt.Errorf("ddb: get session: %w", err)
	}
	if item == nil {
		return "", fmt.Errorf("ddb: get session: %w", ErrNotFound)
	}
	return getS(item, "email"), nil
}

// DeleteSession ends the session id: its item is deleted, so GetSession
// no longer finds it. Deleting a malformed, unknown or expired session is
// no error.
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	raw, ok := decodeSecret(id)
	if !ok {
		return nil
	}
	_, err := s.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName: aws.String(s.table),
		Key:       secretKey(skSession, raw),
	})
	if err != nil {
		return fmt.Errorf("ddb: delete session: %w", err)
	}
	return nil
}
