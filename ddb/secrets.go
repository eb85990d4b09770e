package ddb

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Magic-link tokens and session ids are secrets: 32 random bytes handed to
// the user base64url-encoded, stored only as their SHA-256.

// secretBytes is how many random bytes a token or session id carries.
const secretBytes = 32

// Kinds of secret, each its item's pk prefix and sk.
const (
	skToken   = "TOKEN"
	skSession = "SESSION"
)

// secretKey returns the key of the item that stands for raw, the bytes of
// a secret of kind.
func secretKey(kind string, raw []byte) map[string]types.AttributeValue {
	sum := sha256.Sum256(raw)
	return key(kind+"#"+hex.EncodeToString(sum[:]), kind)
}

// decodeSecret returns the bytes of an encoded secret, or false when it is
// not one.
func decodeSecret(secret string) ([]byte, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(secret)
	return raw, err == nil && len(raw) == secretBytes
}

// putSecret stores a new secret of kind for the normalised form of email,
// valid for ttl, and returns it encoded.
func (s *Store) putSecret(ctx context.Context, kind, email string, ttl time.Duration) (string, error) {
	op := "ddb: create " + strings.ToLower(kind)
	email = NormalizeEmail(email)
	if email == "" {
		return "", errors.New(op + ": email is empty")
	}
	raw := make([]byte, secretBytes)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("%s: %w", op, err)
	}
	now := s.opts.Now()
	expires := epoch(now.Add(ttl))
	item := secretKey(kind, raw)
	item["email"] = str(email)
	item["created_at"] = num(now.Unix())
	item["expires_at"] = num(expires)
	item[attrTTL] = num(expires)
	// The condition guards against the (2^-256) chance of reusing a live
	// secret's hash. It fails also when the SDK retries a put that landed
	// but whose answer came late or not at all (an attempt timeout, a lost
	// connection): the item found is then this call's own, and the put
	// succeeded. Any other item found is an error like any other.
	_, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                           aws.String(s.table),
		Item:                                item,
		ConditionExpression:                 aws.String("attribute_not_exists(#pk)"),
		ExpressionAttributeNames:            map[string]string{"#pk": attrPK},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if old, exists := conditionFailed(err); exists && getS(old, "email") == email && getN(old, "created_at") == now.Unix() {
		err = nil
	}
	if err != nil {
		return "", fmt.Errorf("%s: %w", op, err)
	}
	return base64.RawURLEncoding.EncodeToString(raw), nil
}

// getSecret returns the item of the secret of kind whose bytes are raw,
// or nil when there is none or it has expired at now.
func (s *Store) getSecret(ctx context.Context, kind string, raw []byte, now time.Time) (map[string]types.AttributeValue, error) {
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.table),
		Key:            secretKey(kind, raw),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, err
	}
	if out.Item == nil || getN(out.Item, "expires_at") <= now.Unix() {
		return nil, nil
	}
	return out.Item, nil
}
