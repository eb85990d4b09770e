package busywork

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/busywork/busywork/awsclient"
)

// loadEnv reads busywork's configuration and then the AWS one: what
// every command that talks to AWS starts with.
func loadEnv(ctx context.Context) (config, aws.Config, error) {
	cfg, err := loadConfig()
	if err != nil {
		return cfg, aws.Config{}, err
	}
	awsCfg, err := loadAWS(ctx)
	return cfg, awsCfg, err
}

// loadAWS reads the standard AWS configuration (AWS_REGION,
// AWS_ENDPOINT_URL_*, credentials) with busywork's HTTP client
// (awsclient.Load), tracing the calls made under a span when traces are
// on.
func loadAWS(ctx context.Context) (aws.Config, error) {
	cfg, err := awsclient.Load(ctx)
	if err != nil {
		return cfg, fmt.Errorf("AWS configuration: %w", err)
	}
	traceAWS(&cfg)
	if cfg.Region == "" {
		return cfg, ConfigErrorf("no AWS region: set AWS_REGION")
	}
	return cfg, nil
}

// queueError adds a hint to an error that says the queue does not exist:
// to run bin's bootstrap.
func queueError(bin, name string, err error) error {
	var missing *types.QueueDoesNotExist
	if errors.As(err, &missing) {
		return fmt.Errorf("queue %s does not exist: run `%s bootstrap` to create it (%w)", name, bin, err)
	}
	return fmt.Errorf("queue %s: %w", name, err)
}
