package ddb

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Client is the part of *dynamodb.Client that a Store calls.
type Client interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
}

// Defaults of Options.
const (
	// DefaultTokenTTL is how long a magic-link token is valid when
	// CreateToken is given no ttl.
	DefaultTokenTTL = 15 * time.Minute
	// DefaultLinkLimit is how many links AllowLink grants one address per
	// window.
	DefaultLinkLimit = 5
	// DefaultLinkWindow is the length of AllowLink's fixed windows.
	DefaultLinkWindow = time.Hour
	// DefaultJobRetention is how long a job claim is kept: longer than
	// SQS's longest message retention (14 days), so no redelivery
	// outlives its claim.
	DefaultJobRetention = 15 * 24 * time.Hour
)

// Errors returned by a Store; compare with errors.Is.
var (
	// ErrNotFound means the item asked for does not exist.
	ErrNotFound = errors.New("ddb: not found")
	// ErrInvalidToken means a magic-link token is unknown, expired or
	// already used; on purpose it does not say which.
	ErrInvalidToken = errors.New("ddb: invalid or expired token")
	// ErrClaimLost means a job's claim is no longer the caller's: it was
	// completed, released, or taken over after its lease ran out.
	ErrClaimLost = errors.New("ddb: job claim lost")
)

// Options configures a Store. The zero value of each field selects its
// documented default.
type Options struct {
	// LinkLimit is how many magic links AllowLink grants one address per
	// LinkWindow. 0 means DefaultLinkLimit.
	LinkLimit int
	// LinkWindow is the length of AllowLink's fixed windows, aligned to
	// the Unix epoch. 0 means DefaultLinkWindow.
	LinkWindow time.Duration
	// JobRetention is how long ClaimJob's and CompleteJob's records are
	// kept, and batches, orders and tickets stored with no ttl of their
	// own. 0 means DefaultJobRetention.
	JobRetention time.Duration
	// Now returns the current time for the methods that take none
	// (CreateToken, ClaimJob, ...). nil means time.Now.
	Now func() time.Time
}

// Store reads and writes busywork's items in one DynamoDB table. It is safe
// for concurrent use.
type Store struct {
	client Client
	table  string
	opts   Options
}

// New returns a Store for table, which must have the string keys pk (hash)
// and sk (range) and, for DynamoDB to delete old items, TTL enabled on the
// attribute ttl. optFns adjust the Options after the defaults.
func New(client Client, table string, optFns ...func(*Options)) *Store {
	var o Options
	for _, fn := range optFns {
		fn(&o)
	}
	if o.LinkLimit <= 0 {
		o.LinkLimit = DefaultLinkLimit
	}
	if o.LinkWindow <= 0 {
		o.LinkWindow = DefaultLinkWindow
	}
	if o.JobRetention <= 0 {
		o.JobRetention = DefaultJobRetention
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Store{client: client, table: table, opts: o}
}

// Attribute names shared by the item kinds.
const (
	attrPK  = "pk"
	attrSK  = "sk"
	attrTTL = "ttl"
)

func key(pk, sk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrPK: str(pk), attrSK: str(sk)}
}

func str(s string) types.AttributeValue { return &types.AttributeValueMemberS{Value: s} }

func num(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

// epoch returns t in Unix seconds, rounded up so that "expires at" never
// comes early.
func epoch(t time.Time) int64 {
	s := t.Unix()
	if t.Nanosecond() > 0 {
		s++
	}
	return s
}

func getS(item map[string]types.AttributeValue, name string) string {
	if v, ok := item[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

func getN(item map[string]types.AttributeValue, name string) int64 {
	if v, ok := item[name].(*types.AttributeValueMemberN); ok {
		n, err := strconv.ParseInt(v.Value, 10, 64)
		if err == nil {
			return n
		}
	}
	return 0
}

// retention returns ttl, or Options.JobRetention when ttl <= 0.
func (s *Store) retention(ttl time.Duration) time.Duration {
	if ttl <= 0 {
		return s.opts.JobRetention
	}
	return ttl
}

// live reports whether item exists and its ttl has not passed at now (Unix
// seconds): DynamoDB deletes expired items late, so reads treat them as
// absent.
func live(item map[string]types.AttributeValue, now int64) bool {
	return item != nil && getN(item, attrTTL) > now
}

// putNew puts item unless an item with its key exists and is live at now:
// then it returns created false and the item that exists.
func (s *Store) putNew(ctx context.Context, item map[string]types.AttributeValue, now time.Time) (created bool, old map[string]types.AttributeValue, err error) {
	_, err = s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                           aws.String(s.table),
		Item:                                item,
		ConditionExpression:                 aws.String("attribute_not_exists(#pk) OR #ttl <= :now"),
		ExpressionAttributeNames:            map[string]string{"#pk": attrPK, "#ttl": attrTTL},
		ExpressionAttributeValues:           map[string]types.AttributeValue{":now": num(now.Unix())},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if old, exists := conditionFailed(err); exists {
		return false, old, nil
	}
	return err == nil, nil, err
}

// conditionFailed reports whether err is a failed ConditionExpression and
// returns the item as it was, when the request asked for it.
func conditionFailed(err error) (map[string]types.AttributeValue, bool) {
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) {
		return ccf.Item, true
	}
	return nil, false
}
