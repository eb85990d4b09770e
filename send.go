package busywork

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/busywork/busywork/producer"
)

// sendTimeout bounds a send across the SDK's retries; a person waits, not
// a web request.
const sendTimeout = 10 * time.Second

var sendCommand = &Command{
	Name:    "send",
	Args:    "TYPE JSON",
	Summary: "enqueue one job, validated; prints its job id",
	Run:     runSend,
	Help: `Enqueues one job of type TYPE whose fields are the JSON object JSON, after
checking it as the worker will (a type this binary has no handler for, a
field its job has not, or a job that does not validate exits 2 saying
why), and prints the job's id. ping is every binary's: a smoke test.

Job types: {types}

Examples:
  {name} send ping '{"message":"hello"}'
  {name} send ping '{"message":"load","work_ms":100}'   # the worker waits 100 ms

The job goes to its type's lane by the routing table (the binary's, with
BUSYWORK_ROUTES over it): the critical lane's queue (BUSYWORK_CRITICAL_QUEUE,
default busywork-critical), the bulk lane's (busywork-bulk), or the default
lane's (BUSYWORK_QUEUE, busywork-jobs). With BUSYWORK_SIGNING_KEY set the job
is signed.
`,
}

func runSend(ctx context.Context, inv *Invocation) error {
	fs := flag.NewFlagSet("send", flag.ContinueOnError)
	if err := inv.ParseFlags(fs, inv.Args); err != nil {
		return err
	}
	switch fs.NArg() {
	case 0:
		return Usagef("missing arguments TYPE and JSON")
	case 1:
		return Usagef("missing argument JSON (the job's fields, e.g. '{}')")
	case 2:
	default:
		return Usagef("unexpected argument %q after TYPE and JSON", fs.Arg(2))
	}
	cfg, awsCfg, err := loadEnv(ctx)
	if err != nil {
		return err
	}
	known, err := inv.app.typesMux(cfg, awsCfg)
	if err != nil {
		return err
	}
	job, err := known.Parse(fs.Arg(0), []byte(fs.Arg(1)))
	if err != nil {
		return Usagef("%v", err)
	}
	routes, err := cfg.routes(inv.app, known.Types())
	if err != nil {
		return err
	}
	client := sqs.NewFromConfig(awsCfg)
	to, err := cfg.selectLanes(routes.Lane(job.Type()))
	if err != nil {
		return err
	}
	urls, err := resolveLanes(ctx, client, to, inv.Name())
	if err != nil {
		return err
	}
	id, err := producer.New(client, urls[to[0].name], cfg.producerOptions(producer.WithTimeout(sendTimeout))...).Send(ctx, job)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(inv.Stdout, id)
	return err
}
