package main

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/busywork/busywork/internal/awsclient"
	"github.com/busywork/busywork/internal/bootstrap"
)

var bootstrapCommand = &command{
	name:    "bootstrap",
	summary: "create the queue, its DLQ, the table and the sender (idempotent)",
	run:     runBootstrap,
	help: `Creates what busywork runs on, unless it is already there, and prints what
it did for each resource (created, updated, already there, skipped):

  - the queue BUSYWORK_QUEUE (default busywork-jobs; visibility timeout 30s;
    messages kept 4 days) and its dead-letter queue (the same name plus -dlq;
    kept 14 days, since SQS counts a dead letter's age from when it entered
    the queue), linked by a redrive policy with maxReceiveCount
    BUSYWORK_MAX_RECEIVE_COUNT (default 5); an existing queue whose
    attributes differ is updated;
  - the DynamoDB table BUSYWORK_TABLE (default busywork; keys pk and sk,
    on demand) with time to live on the attribute ttl;
  - the SES sender identity BUSYWORK_FROM_EMAIL (default no-reply@example.com),
    skipped where the endpoint does not support identities.

Running it again is safe.
`,
}

func runBootstrap(ctx context.Context, c *command, out cmdIO, args []string) error {
	if err := c.parseNoArgs(out.stdout, args); err != nil {
		return err
	}
	cfg, awsCfg, err := loadEnv(ctx)
	if err != nil {
		return err
	}
	clients := bootstrap.Clients{
		SQS:      sqs.NewFromConfig(awsCfg),
		DynamoDB: awsclient.NewDynamoDB(awsCfg),
		SES:      sesv2.NewFromConfig(awsCfg),
	}
	report, err := bootstrap.Run(ctx, clients, bootstrap.Config{
		Lanes:  []bootstrap.Lane{{Name: cfg.queueName(), MaxReceiveCount: cfg.MaxReceiveCount}},
		Table:  cfg.Table,
		Sender: cfg.FromEmail,
	})
	if _, werr := fmt.Fprint(out.stdout, report); err == nil {
		err = werr
	}
	return err
}
