package ddb

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// User is a person who may log in with a magic link.
type User struct {
	// Email is the normalised address the user is stored under.
	Email string
	// Name is how emails greet the user; it may be empty.
	Name string
	// CreatedAt is when PutUser first stored the user.
	CreatedAt time.Time
}

const skUser = "PROFILE"

func userKey(email string) map[string]types.AttributeValue {
	return key("USER#"+email, skUser)
}

// NormalizeEmail returns the canonical form of an email address, the one
// users, their tokens, sessions and rate limits are stored under: trimmed of
// surrounding space and lower-cased.
func NormalizeEmail(email string) string {
	return strings.ToLower(strings.TrimSpace(email))
}

// PutUser stores a user under the normalised form of email
// (NormalizeEmail). It is an idempotent create: when the user exists
// already, PutUser changes nothing and returns nil.
func (s *Store) PutUser(ctx context.Context, email, name string) error {
	email = NormalizeEmail(email)
	if email == "" {
		return errors.New("ddb: put user: email is empty")
	}
	item := userKey(email)
	item["email"] = str(email)
	item["name"] = str(name)
	item["created_at"] = num(s.opts.Now().Unix())
	_, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                aws.String(s.table),
		Item:                     item,
		ConditionExpression:      aws.String("attribute_not_exists(#pk)"),
		ExpressionAttributeNames: map[string]string{"#pk": attrPK},
	})
	if _, exists := conditionFailed(err); exists {
		return nil
	}
	if err != nil {
		return fmt.Errorf("ddb: put user: %w", err)
	}
	return nil
}

// GetUser returns the user stored under the normalised form of email, or
// an error wrapping ErrNotFound.
func (s *Store) GetUser(ctx context.Context, email string) (User, error) {
	email = NormalizeEmail(email)
	if email == "" {
		return User{}, fmt.Errorf("ddb: get user: empty email: %w", ErrNotFound)
	}
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.table),
		Key:            userKey(email),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return User{}, fmt.Errorf("ddb: get user: %w", err)
	}
	if out.Item == nil {
		return User{}, fmt.Errorf("ddb: get user %s: %w", email, ErrNotFound)
	}
	return User{
		Email:     getS(out.Item, "email"),
		Name:      getS(out.Item, "name"),
		CreatedAt: time.Unix(getN(out.Item, "created_at"), 0),
	}, nil
}
