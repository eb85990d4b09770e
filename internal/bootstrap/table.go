package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// DynamoDBAPI is the part of *dynamodb.Client that Run calls.
type DynamoDBAPI interface {
	DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
	CreateTable(ctx context.Context, in *dynamodb.CreateTableInput, optFns ...func(*dynamodb.Options)) (*dynamodb.CreateTableOutput, error)
	DescribeTimeToLive(ctx context.Context, in *dynamodb.DescribeTimeToLiveInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DescribeTimeToLiveOutput, error)
	UpdateTimeToLive(ctx context.Context, in *dynamodb.UpdateTimeToLiveInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateTimeToLiveOutput, error)
}

var _ DynamoDBAPI = (*dynamodb.Client)(nil)

// The table's key: string attributes pk (hash) and sk (range).
var tableKey = []types.KeySchemaElement{
	{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash},
	{AttributeName: aws.String("sk"), KeyType: types.KeyTypeRange},
}

// ensureTable creates the on-demand table name unless it exists, waits
// until it is ACTIVE, and turns on its time to live.
func ensureTable(ctx context.Context, client DynamoDBAPI, name string, timeout time.Duration) (Report, error) {
	step := Step{Resource: "table " + name, Status: Exists}
	out, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
	var missing *types.ResourceNotFoundException
	switch {
	case errors.As(err, &missing):
		_, err = client.CreateTable(ctx, &dynamodb.CreateTableInput{
			TableName:   aws.String(name),
			BillingMode: types.BillingModePayPerRequest,
			AttributeDefinitions: []types.AttributeDefinition{
				{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS},
				{AttributeName: aws.String("sk"), AttributeType: types.ScalarAttributeTypeS},
			},
			KeySchema: tableKey,
		})
		var inUse *types.ResourceInUseException // created meanwhile
		if err != nil && !errors.As(err, &inUse) {
			return nil, fmt.Errorf("bootstrap: table %s: create: %w", name, err)
		}
		if err == nil {
			step.Status, step.Detail = Created, "keys pk, sk (strings), on demand"
		}
	case err != nil:
		return nil, fmt.Errorf("bootstrap: table %s: describe: %w", name, err)
	default:
		if err := checkKey(out.Table); err != nil {
			return nil, fmt.Errorf("bootstrap: table %s exists with another key: %w", name, err)
		}
	}
	if err := waitActive(ctx, client, name, timeout); err != nil {
		return Report{step}, err
	}
	ttl, err := ensureTTL(ctx, client, name)
	if err != nil {
		return Report{step}, err
	}
	return Report{step, ttl}, nil
}

func checkKey(t *types.TableDescription) error {
	if t == nil || len(t.KeySchema) != len(tableKey) {
		return errors.New("want pk (hash) and sk (range)")
	}
	for i, k := range tableKey {
		if aws.ToString(t.KeySchema[i].AttributeName) != aws.ToString(k.AttributeName) || t.KeySchema[i].KeyType != k.KeyType {
			return errors.New("want pk (hash) and sk (range)")
		}
	}
	return nil
}

// waitActive polls the table's status until it is ACTIVE, for at most
// timeout.
func waitActive(ctx context.Context, client DynamoDBAPI, name string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	delay := 100 * time.Millisecond
	for {
		out, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
		if err != nil {
			return fmt.Errorf("bootstrap: table %s: wait until active: %w", name, err)
		}
		if out.Table != nil && out.Table.TableStatus == types.TableStatusActive {
			return nil
		}
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("bootstrap: table %s: not ACTIVE after %s: %w", name, timeout, ctx.Err())
		case <-t.C:
		}
		delay = min(2*delay, 2*time.Second)
	}
}

// ensureTTL turns on the table's time to live on TTLAttribute.
func ensureTTL(ctx context.Context, client DynamoDBAPI, table string) (Step, error) {
	step := Step{Resource: fmt.Sprintf("time to live on %s.%s", table, TTLAttribute), Status: Exists}
	out, err := client.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(table)})
	if err != nil {
		return step, fmt.Errorf("bootstrap: table %s: describe time to live: %w", table, err)
	}
	if d := out.TimeToLiveDescription; d != nil {
		attr := aws.ToString(d.AttributeName)
		on := d.TimeToLiveStatus == types.TimeToLiveStatusEnabled || d.TimeToLiveStatus == types.TimeToLiveStatusEnabling
		switch {
		case on && attr == TTLAttribute:
			return step, nil
		case on:
			return step, fmt.Errorf("bootstrap: table %s: time to live is on attribute %q, not %q", table, attr, TTLAttribute)
		}
	}
	_, err = client.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName: aws.String(table),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{
			AttributeName: aws.String(TTLAttribute),
			Enabled:       aws.Bool(true),
		},
	})
	if err != nil {
		return step, fmt.Errorf("bootstrap: table %s: enable time to live: %w", table, err)
	}
	step.Status = Created
	return step, nil
}
