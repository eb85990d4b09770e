package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/busywork/busywork/awsclient"
	"github.com/busywork/busywork/consumer"
	"github.com/busywork/busywork/ddb"
	"github.com/busywork/busywork/handlers"
	"github.com/busywork/busywork/metrics"
	"github.com/busywork/busywork/producer"
)

// followUpTimeout bounds the worker's sends of follow-up jobs, up to
// jobs.MaxTickets of them in one SendBatch.
const followUpTimeout = 30 * time.Second

// adminShutdownTimeout bounds the admin server's shutdown.
const adminShutdownTimeout = 5 * time.Second

var workerCommand = &command{
	name:    "worker",
	summary: "run the jobs until SIGTERM or SIGINT, then drain",
	run:     runWorker,
	args:    "[--lanes LANE,...]",
	help: `Serves the jobs of every lane (critical, default, bulk), or of the lanes
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

Run 'busywork bootstrap' first: every lane's queue and dead-letter queue must
exist.
`,
}

func runWorker(ctx context.Context, c *command, out cmdIO, args []string) error {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	laneList := fs.String("lanes", "", "")
	if err := c.parseFlags(fs, out.stdout, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	ccfg, err := loadConsumerConfig()
	if err != nil {
		return err
	}
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	served, err := cfg.selectLanes(*laneList)
	if err != nil {
		return usagef("--lanes: %v", err)
	}
	awsCfg, err := loadAWS(ctx)
	if err != nil {
		return err
	}
	log := newLogger(out.stderr, cfg.LogLevel)

	reg := newMetricsRegistry()
	meters := metrics.NewConsumer(reg)
	client := sqs.NewFromConfig(awsCfg, meters.InstrumentSQS)
	dynamo, mail := awsclient.NewDynamoDB(awsCfg), sesv2.NewFromConfig(awsCfg)
	// Before any call: a worker that may reach AWS needs the ticket key.
	if err := checkTicketKey(cfg.TicketKey, log, map[string]*string{
		"SQS": client.Options().BaseEndpoint, "DynamoDB": dynamo.Options().BaseEndpoint, "SES v2": mail.Options().BaseEndpoint,
	}); err != nil {
		return err
	}
	followUps, urls, err := cfg.followUpRouter(ctx, client)
	if err != nil {
		return err
	}

	mux := consumer.NewMux()
	handlers.Register(mux, handlers.Deps{
		Logger:        log,
		Store:         ddb.New(dynamo, cfg.Table),
		Mail:          mail,
		From:          cfg.FromEmail,
		BaseURL:       cfg.BaseURL,
		Queue:         followUps,
		TicketKey:     []byte(cfg.TicketKey),
		MaxEmailBytes: cfg.MaxEmailBytes,
	})
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
	return serveWithAdmin(ctx, log, ln, newAdminHandler(cons.Healthy, reg), func(ctx context.Context) error {
		err := cons.Run(ctx)
		var missing *types.QueueDoesNotExist
		if errors.As(err, &missing) {
			return fmt.Errorf("%w (run `busywork bootstrap` to create the queues)", err)
		}
		return err
	})
}

// followUpRouter returns the router of the jobs that jobs lead to (an
// order's tickets, its dispatch), to every lane, served here or not, and
// the lanes' queue URLs. Its deadline fits jobs.MaxTickets jobs: more
// than the web's 1 s.
func (c Config) followUpRouter(ctx context.Context, client *sqs.Client) (*producer.Router, map[string]string, error) {
	urls, err := resolveLanes(ctx, client, c.lanes())
	if err != nil {
		return nil, nil, err
	}
	router, err := c.newRouter(client, urls, producer.WithTimeout(followUpTimeout))
	return router, urls, err
}

// checkTicketKey refuses to run without a ticket key (BUSYWORK_TICKET_KEY),
// with which the worker signs the codes printed on tickets: without one,
// anyone can make a code that passes for a ticket. Only a worker whose
// endpoints (by service; nil means AWS's own) are all on this machine, the
// emulators of `make dev` and the tests, may run without it, and it logs a
// warning then.
func checkTicketKey(key string, log *slog.Logger, endpoints map[string]*string) error {
	if key != "" {
		return nil
	}
	for _, service := range slices.Sorted(maps.Keys(endpoints)) {
		if e := endpoints[service]; e == nil || !awsclient.IsLocalEndpoint(*e) {
			where := "AWS"
			if e != nil {
				where = *e
			}
			return &configError{fmt.Sprintf("%s_TICKET_KEY is not set: without it anyone can forge the codes printed on tickets. "+
				"Set it to a long random secret (e.g. the output of `openssl rand -hex 32`), the same for every worker; "+
				"only a worker whose SQS, DynamoDB and SES v2 endpoints are all local emulators may run without it (%s: %s)",
				envPrefix, service, where)}
		}
	}
	log.Warn(envPrefix + "_TICKET_KEY is not set: the codes on tickets can be forged; allowed only because every AWS endpoint is local")
	return nil
}

// serveWithAdmin serves admin on ln while run runs, and shuts the server
// down before it returns. If the server fails, run's context is cancelled.
func serveWithAdmin(ctx context.Context, log *slog.Logger, ln net.Listener, admin http.Handler, run func(context.Context) error) error {
	srv := &http.Server{Handler: admin, ReadHeaderTimeout: 5 * time.Second}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg       sync.WaitGroup
		serveErr error
	)
	wg.Go(func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			serveErr = fmt.Errorf("admin server: %w", err)
			log.Error("admin server failed; stopping", "error", err)
			cancel()
		}
	})
	err := run(runCtx)

	shutdownCtx, cancelShutdown := context.WithTimeout(context.WithoutCancel(ctx), adminShutdownTimeout)
	defer cancelShutdown()
	if serr := srv.Shutdown(shutdownCtx); serr != nil {
		log.Error("admin server shutdown", "error", serr)
		if cerr := srv.Close(); cerr != nil {
			log.Error("admin server close", "error", cerr)
		}
	}
	wg.Wait()
	return errors.Join(err, serveErr)
}
