package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/busywork/busywork/consumer"
	"github.com/busywork/busywork/ddb"
	"github.com/busywork/busywork/handlers"
	"github.com/busywork/busywork/internal/awsclient"
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
	help: `Serves the jobs of the queue BUSYWORK_QUEUE (default busywork-jobs) or
BUSYWORK_QUEUE_URL with all handlers, up to BUSYWORK_CONCURRENCY (default 10)
at once, with BUSYWORK_POLLERS receives in flight (default 2) and at most
BUSYWORK_MAX_UNCONFIRMED finished jobs whose delete SQS has not confirmed
(default: the concurrency). Logs are JSON lines on stderr.

On SIGTERM or SIGINT it receives no more jobs, gives running ones
BUSYWORK_DRAIN_TIMEOUT (default 25s) to finish, cancels the rest and
releases them to SQS once their handlers return, confirms the last deletes,
and exits 0 within the drain timeout + 15s (1 if SQS did not confirm some
outcomes). A second signal kills it at once.

The admin listener on BUSYWORK_ADMIN_ADDR (default 127.0.0.1:9090) serves
  /healthz   200 "ok", or 503 with the reason when hung handlers hold too
             many job slots
  /metrics   Prometheus metrics (busywork_*, Go and process)

Run 'busywork bootstrap' first: the queue and its dead-letter queue must exist.
`,
}

func runWorker(ctx context.Context, c *command, out cmdIO, args []string) error {
	if err := c.parseNoArgs(out.stdout, args); err != nil {
		return err
	}
	ccfg, err := loadConsumerConfig()
	if err != nil {
		return err
	}
	cfg, awsCfg, err := loadEnv(ctx)
	if err != nil {
		return err
	}
	log := newLogger(out.stderr, cfg.LogLevel)

	reg := newMetricsRegistry()
	metrics := consumer.NewMetrics(reg)
	client := sqs.NewFromConfig(awsCfg, metrics.InstrumentSQS)
	url, err := resolveQueue(ctx, client, cfg)
	if err != nil {
		return err
	}

	mux := consumer.NewMux()
	handlers.Register(mux, handlers.Deps{
		Logger:  log,
		Store:   ddb.New(awsclient.NewDynamoDB(awsCfg), cfg.Table),
		Mail:    sesv2.NewFromConfig(awsCfg),
		From:    cfg.FromEmail,
		BaseURL: cfg.BaseURL,
		// Follow-up jobs: an order's 1000 tickets take more than the web's 1 s.
		Queue:         producer.New(client, url, cfg.producerOptions(producer.WithTimeout(followUpTimeout))...),
		TicketKey:     []byte(cfg.TicketKey),
		MaxEmailBytes: cfg.MaxEmailBytes,
	})
	ccfg.Queues = []consumer.QueueConfig{{
		URL: url, Concurrency: cfg.Concurrency, Pollers: cfg.Pollers, MaxUnconfirmed: cfg.MaxUnconfirmed, Lease: cfg.Lease,
	}}
	ccfg.Logger = log
	ccfg.Metrics = metrics
	if cfg.SigningKey != "" {
		ccfg.SigningKey = []byte(cfg.SigningKey)
	}
	cons, err := consumer.New(client, mux, ccfg)
	if err != nil {
		return consumerConfigError(err)
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
			return queueError(cfg.queueName(), err)
		}
		return err
	})
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
