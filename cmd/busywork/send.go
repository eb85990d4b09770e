package main

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/busywork/busywork/jobs"
	"github.com/busywork/busywork/producer"
)

// sendTimeout bounds a send across the SDK's retries; a person waits, not
// a web request.
const sendTimeout = 10 * time.Second

var sendCommand = &command{
	name:    "send",
	args:    "TYPE JSON",
	summary: "enqueue one job, validated; prints its job id",
	run:     runSend,
	help: `Enqueues one job of type TYPE whose fields are the JSON object JSON, after
checking it as the worker will, and prints the job's id.

Job types: ` + strings.Join(jobs.Types(), ", ") + `

Examples:
  busywork send ping '{"message":"hello"}'
  busywork send ping '{"message":"load","work_ms":100}'   # the worker waits 100 ms
  busywork send magic_link '{"email":"ada@example.com"}'

The job goes to its type's lane (see BUSYWORK_ROUTES in the README): magic_link
to the critical lane's queue (default busywork-critical), ticket_order and
generate_ticket to the bulk lane's (busywork-bulk), the others to the default
lane's (busywork-jobs). With BUSYWORK_SIGNING_KEY set the job is signed.
`,
}

func runSend(ctx context.Context, c *command, out cmdIO, args []string) error {
	fs := flag.NewFlagSet("send", flag.ContinueOnError)
	if err := c.parseFlags(fs, out.stdout, args); err != nil {
		return err
	}
	switch fs.NArg() {
	case 0:
		return usagef("missing arguments TYPE and JSON")
	case 1:
		return usagef("missing argument JSON (the job's fields, e.g. '{}')")
	case 2:
	default:
		return usagef("unexpected argument %q after TYPE and JSON", fs.Arg(2))
	}
	job, err := jobs.Parse(fs.Arg(0), []byte(fs.Arg(1)))
	if err != nil {
		return &usageError{err.Error()}
	}
	cfg, awsCfg, err := loadEnv(ctx)
	if err != nil {
		return err
	}
	client := sqs.NewFromConfig(awsCfg)
	routes, err := cfg.routes()
	if err != nil {
		return err
	}
	to, err := cfg.selectLanes(routes.Lane(job.Type()))
	if err != nil {
		return err
	}
	urls, err := resolveLanes(ctx, client, to)
	if err != nil {
		return err
	}
	id, err := producer.New(client, urls[to[0].name], cfg.producerOptions(producer.WithTimeout(sendTimeout))...).Send(ctx, job)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(out.stdout, id)
	return err
}
