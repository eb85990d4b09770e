package busywork

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/busywork/busywork/awsclient"
	"github.com/busywork/busywork/consumer"
	"github.com/busywork/busywork/ddb"
	"github.com/busywork/busywork/internal/serve"
	"github.com/busywork/busywork/metrics"
	"github.com/busywork/busywork/producer"
)

// followUpTimeout bounds the worker's sends of follow-up jobs, up to
// thousands of them in one SendBatch (a fan-out).
const followUpTimeout = 30 * time.Second

var workerCommand = &Command{
	Name:    "worker",
	Summary: "run the jobs until SIGTERM or SIGINT, then drain",
	Run:     runWorker,
	Args:    "[--lanes LANE,...]",
	Help: `Serves the jobs of every lane (critical, default, bulk), or of the lanes
that --lanes names, with all handlers. Each lane has its own queue,
receives and concurrency limit, so a backlog on one never takes another's
slots:

  lane      queue (default)                              settings
  critical  BUSYWORK_CRITICAL_QUEUE (busywork-critical)  BUSYWORK_CRITICAL_*
  default   BUSYWORK_QUEUE (busywork-jobs)               BUSYWORK_*
  bulk      BUSYWORK_BULK_QUEUE (busywork-bulk)          BUSYWORK_BULK_*

where the settings of a lane are CONCURRENCY (jobs at once; default 10),
MAX_RECEIVES (the most receives in flight; default 100: the worker keeps
what its rate times SQS's round trip needs), MAX_UNCONFIRMED (the most
finished jobs whose delete SQS has not confirmed; default 1000), LEASE and
QUEUE_URL, as in BUSYWORK_BULK_CONCURRENCY. Follow-up jobs (an order's tickets, its
dispatch) go to their own lanes by the routing table (BUSYWORK_ROUTES),
served by this worker or another. Logs are JSON lines on stderr.

  --lanes LANE,...  serve only these lanes, e.g. --lanes critical,default;
                    run one service per lane to scale each on its backlog

On SIGTERM or SIGINT it receives no more jobs, gives running ones
BUSYWORK_DRAIN_TIMEOUT (default 25s) to finish, cancels the rest and
releases them to SQS once their handlers return, confirms the last deletes,
and exits 0 within the drain timeout + 15s (1 if SQS did not confirm some
outcomes). A second signal kills it at once.

The admin listener on BUSYWORK_ADMIN_ADDR (default 127.0.0.1:9090) serves
  /healthz   200 "ok", or 503 with the reason when hung handlers hold too
             many job slots
  /metrics   Prometheus metrics (busywork_*, Go and process)

BUSYWORK_TICKET_KEY signs the codes printed on tickets. Without it anyone
could forge a ticket, so the worker refuses to start (exit 2) unless its SQS,
DynamoDB and SES v2 endpoints are all on this machine (the emulators of 'make
dev' and the tests), where it only warns.

With OTEL_EXPORTER_OTLP_ENDPOINT set (an OpenTelemetry collector's OTLP/HTTP
address) each run of a job is a span in the trace of the send that enqueued
it, with the AWS calls its handler makes as children.

Run 'busywork bootstrap' first: every lane's queue and dead-letter queue must
exist.
`,
}

func runWorker(ctx context.Context, inv *Invocation) error {
	fs := flag.NewFlagSet(inv.Command.Name, flag.ContinueOnError)
	laneList := fs.String("lanes", "", "")
	if err := inv.ParseFlags(fs, inv.Args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return Usagef("unexpected argument %q", fs.Arg(0))
	}
	ccfg, err := loadWorkerConfig()
	if err != nil {
		return err
	}
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	served, err := cfg.selectLanes(*laneList)
	if err != nil {
		return Usagef("--lanes: %v", err)
	}
	awsCfg, err := loadAWS(ctx)
	if err != nil {
		return err
	}
	log := newLogger(inv.Stderr, cfg.LogLevel)
	app := inv.app
	known, err := app.typesMux(cfg, awsCfg)
	if err != nil {
		return err
	}
	routes, err := cfg.routes(app, known.Types())
	if err != nil {
		return err
	}

	reg := NewMetricsRegistry()
	meters := metrics.NewConsumer(reg)
	client := sqs.NewFromConfig(awsCfg, meters.InstrumentSQS)
	// Follow-ups go to every lane, served here or not.
	urls, err := resolveLanes(ctx, client, cfg.lanes(), inv.Name())
	if err != nil {
		return err
	}
	// Its unique keys (producer.Unique) live in the runtime's table.
	uniques := ddb.New(awsclient.NewDynamoDB(awsCfg), cfg.Table)
	followUps, err := cfg.newRouter(client, awsCfg, urls, routes, producer.WithTimeout(followUpTimeout), producer.WithUniqueStore(uniques))
	if err != nil {
		return err
	}
	env := &Env{AWS: awsCfg, Queue: followUps, Logger: log, Table: cfg.Table, Serving: true, limits: cfg.limits}
	mux, err := app.mux(env)
	if err != nil {
		return err
	}
	env.mailRate(ctx, sesv2.NewFromConfig(awsCfg))
	ccfg.Queues = queueConfigs(served, urls)
	ccfg.Logger = log
	ccfg.Metrics = meters
	if cfg.SigningKey != "" {
		ccfg.SigningKey = []byte(cfg.SigningKey)
	}
	cons, err := consumer.New(client, mux, ccfg)
	if err != nil {
		return consumerConfigError(err, served)
	}

	ln, err := net.Listen("tcp", cfg.AdminAddr)
	if err != nil {
		return fmt.Errorf("admin listener (BUSYWORK_ADMIN_ADDR): %w", err)
	}
	log.Info("admin listening", "addr", ln.Addr().String())
	admin := &http.Server{Handler: newAdminHandler(cons.Healthy, reg), ReadHeaderTimeout: 5 * time.Second}
	return serve.While(ctx, admin, ln, "admin server", func(ctx context.Context) error {
		err := cons.Run(ctx)
		var missing *types.QueueDoesNotExist
		if errors.As(err, &missing) {
			return fmt.Errorf("%w (run `%s bootstrap` to create the queues)", err, inv.Name())
		}
		return err
	})
}
