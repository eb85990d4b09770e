package busywork

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/busywork/busywork/awsclient"
	"github.com/busywork/busywork/internal/bootstrap"
)

var bootstrapCommand = &Command{
	Name:    "bootstrap",
	Summary: "create the lanes' queues and DLQs, the table and the sender (idempotent)",
	Run:     runBootstrap,
	Help: `Creates what busywork runs on, unless it is already there, and prints what
it did for each resource (created, updated, already there, skipped):

  - for each lane, its queue (visibility timeout 30s; messages kept 4 days)
    and dead-letter queue (the same name plus -dlq; kept 14 days, since SQS
    counts a dead letter's age from when it entered the queue), linked by a
    redrive policy with maxReceiveCount BUSYWORK_MAX_RECEIVE_COUNT (default
    5): the critical lane's BUSYWORK_CRITICAL_QUEUE (default
    busywork-critical), the default lane's BUSYWORK_QUEUE (default
    busywork-jobs) and the bulk lane's BUSYWORK_BULK_QUEUE (default
    busywork-bulk); an existing queue whose
    attributes differ is updated;
  - the DynamoDB table BUSYWORK_TABLE (default busywork; keys pk and sk,
    on demand) with time to live on the attribute ttl;
  - the SES sender identity BUSYWORK_FROM_EMAIL (default no-reply@example.com),
    skipped where the endpoint does not support identities.

Running it again is safe.
`,
}

func runBootstrap(ctx context.Context, inv *Invocation) error {
	if err := inv.NoArgs(); err != nil {
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
		Lanes:  bootstrapLanes(cfg),
		Table:  cfg.Table,
		Sender: cfg.FromEmail,
	})
	if _, werr := fmt.Fprint(inv.Stdout, report); err == nil {
		err = werr
	}
	return err
}

// bootstrapLanes returns every lane's queue to create.
func bootstrapLanes(cfg config) []bootstrap.Lane {
	var ls []bootstrap.Lane
	for _, l := range cfg.lanes() {
		ls = append(ls, bootstrap.Lane{Name: l.queueName(), MaxReceiveCount: cfg.MaxReceiveCount})
	}
	return ls
}
