package ddb

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// DefaultScanItems is the default of ScanOptions.Items.
const DefaultScanItems = 1000

// ErrBadCursor means a cursor given to ScanBatches is not one it returned.
var ErrBadCursor = errors.New("ddb: not a cursor of ScanBatches")

// ScanOptions says how far ScanBatches reads.
type ScanOptions struct {
	// Cursor continues a scan where an earlier call ended
	// (BatchPage.Next); "" starts at the table's beginning.
	Cursor string
	// Items is the most items read, of every kind: DynamoDB filters what
	// it has read, so the items read, not the batches found, are what a
	// scan costs. 0 means DefaultScanItems.
	Items int
}

// BatchPage is what one ScanBatches call found.
type BatchPage struct {
	// Batches are the batches found that want a look, in the table's
	// order.
	Batches []Batch
	// Scanned counts the items read, of every kind.
	Scanned int
	// Next continues the scan (ScanOptions.Cursor); "" once it reached
	// the table's end.
	Next string
}

// ScanAPI is the part of *dynamodb.Client that a Scanner calls.
type ScanAPI interface {
	Scan(ctx context.Context, in *dynamodb.ScanInput, optFns ...func(*dynamodb.Options)) (*dynamodb.ScanOutput, error)
}

// Scanner finds batches by scanning the table. It is apart from Store so
// that what holds a Store (a worker, a web app) needs no dynamodb:Scan;
// an operator's tools (the console) do.
type Scanner struct {
	client ScanAPI
	table  string
	now    func() time.Time
}

// NewScanner returns a Scanner of table, which must be a Store's. Of the
// Options optFns adjust, it uses Now.
func NewScanner(client ScanAPI, table string, optFns ...func(*Options)) *Scanner {
	var o Options
	for _, fn := range optFns {
		fn(&o)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Scanner{client: client, table: table, now: o.Now}
}

// ScanBatches reads the table from opts.Cursor, with eventually
// consistent Scan calls, until it has read opts.Items items or reached
// the table's end, and returns the live batches among them that want an
// operator's look: a child failed, a stall is recorded, or the batch is
// complete and its follow-up has not run (it may be running, or lost).
//
// The table has no index by kind, so this read's cost grows with the
// table: DynamoDB bills a scan half a read unit
// per 4 KB read, whatever its filter keeps (1,000 items of 1 KB cost
// about 125 units; one ticket of 40 KB, 5). Call it when an operator asks,
// never on a timer; GetBatch reads one batch by id for one unit.
func (s *Scanner) ScanBatches(ctx context.Context, opts ScanOptions) (BatchPage, error) {
	items := opts.Items
	if items <= 0 {
		items = DefaultScanItems
	}
	start, err := decodeCursor(opts.Cursor)
	if err != nil {
		return BatchPage{}, err
	}
	now := s.now().Unix()
	in := &dynamodb.ScanInput{
		TableName: aws.String(s.table),
		FilterExpression: aws.String("begins_with(#pk, :prefix) AND #sk = :sk AND #ttl > :now AND (attribute_exists(#stalledAt)" +
			" OR size(#failed) > :zero OR (#remaining = :zero AND attribute_not_exists(#dispatched)))"),
		ExpressionAttributeNames: map[string]string{
			"#pk": attrPK, "#sk": attrSK, "#ttl": attrTTL, "#stalledAt": attrStalledAt, "#failed": attrFailed,
			"#remaining": attrRemaining, "#dispatched": attrDispatchedAt,
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":prefix": str(batchPrefix), ":sk": str(skBatch), ":now": num(now), ":zero": num(0),
		},
		ExclusiveStartKey: start,
	}
	var page BatchPage
	for page.Scanned < items {
		in.Limit = aws.Int32(int32(min(items-page.Scanned, maxScanLimit)))
		out, err := s.client.Scan(ctx, in)
		if err != nil {
			return page, fmt.Errorf("ddb: scan for batches: %w", err)
		}
		page.Scanned += int(out.ScannedCount)
		for _, item := range out.Items {
			b, err := decodeBatch(strings.TrimPrefix(getS(item, attrPK), batchPrefix), item)
			if err != nil {
				return page, err
			}
			page.Batches = append(page.Batches, b)
		}
		if len(out.LastEvaluatedKey) == 0 {
			page.Next = ""
			return page, nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
		page.Next = encodeCursor(out.LastEvaluatedKey)
	}
	return page, nil
}

// maxScanLimit bounds the Limit of one Scan call: a call reads at most
// 1 MB anyway.
const maxScanLimit = 1000

// batchPrefix starts the partition key of every batch item.
const batchPrefix = "BATCH#"

// cursor is a scan's LastEvaluatedKey, as ScanBatches hands it out.
type cursor struct {
	PK string `json:"pk"`
	SK string `json:"sk"`
}

func encodeCursor(key map[string]types.AttributeValue) string {
	data, _ := json.Marshal(cursor{PK: getS(key, attrPK), SK: getS(key, attrSK)}) // two strings always marshal
	return base64.RawURLEncoding.EncodeToString(data)
}

func decodeCursor(s string) (map[string]types.AttributeValue, error) {
	if s == "" {
		return nil, nil
	}
	data, err := base64.RawURLEncoding.DecodeString(s)
	var c cursor
	if err == nil {
		err = json.Unmarshal(data, &c)
	}
	if err != nil || c.PK == "" || c.SK == "" {
		return nil, fmt.Errorf("%w: %q", ErrBadCursor, s)
	}
	return key(c.PK, c.SK), nil
}
