package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/busywork/busywork"
	"github.com/busywork/busywork/awsclient"
	"github.com/busywork/busywork/ddb"
	"github.com/busywork/busywork/internal/webapp"
	"github.com/busywork/busywork/producer"
)

// Timeouts of the web server. Handlers answer within the producer's 1 s
// send deadline, so writes are bounded well above that.
const (
	webReadHeaderTimeout = 5 * time.Second
	webReadTimeout       = 10 * time.Second
	webWriteTimeout      = 15 * time.Second
	webIdleTimeout       = 60 * time.Second
	webShutdownTimeout   = 10 * time.Second
)

var webCommand = &busywork.Command{
	Name:    "web",
	Summary: "serve the demo web app (magic-link login) until SIGTERM or SIGINT",
	Run:     runWeb,
	Help: `Serves the demo web app on BUSYWORK_WEB_ADDR (default 127.0.0.1:8080):

  GET  /                 the login and order forms; when signed in, who is
                         signed in, a sign-out button and the order form
  POST /auth/magic-link  enqueues a magic_link job on its lane's queue (the
                         critical lane's: BUSYWORK_CRITICAL_QUEUE, default
                         busywork-critical) and answers 202, the same whether
                         or not the user exists; 429 with Retry-After for a
                         client over the login throttle; 503 with
                         Retry-After when SQS does not take the job
  GET  /auth/verify      the mailed link: a page naming the account with a
                         "Sign in" button; opening it spends nothing
  POST /auth/verify      that button: spends the token once, starts a 24h
                         session (cookie; the table BUSYWORK_TABLE keeps its
                         hash) and redirects to /
  POST /auth/sign-out    deletes the session and clears the cookie
  POST /orders           enqueues a ticket order for the signed-in user, whose
                         address gets the tickets (an email in the request
                         is ignored); without a session 401 (JSON) or a
                         redirect to sign in (form); 429 with Retry-After
                         for a user over the order throttle; the same order
                         (event, tickets) again within 30s, as from a
                         double-click, enqueues nothing and gets the first
                         order's answer
  GET  /orders/ID        the order's progress (JSON)
  GET  /static/order.js  the order page's script
  GET  /healthz          200 "ok"
  GET  /metrics          Prometheus metrics: busywork_web_requests_total,
                         busywork_web_send_duration_seconds,
                         busywork_web_send_failures_total, Go and process

Every request's AWS calls share a 1s deadline; the SQS and DynamoDB clients
give each attempt 250ms and make up to 3, so a retry fits inside it. A call
that fails answers 503 with Retry-After: 1 at once.

POSTs a browser sends from another origin get 403 (Sec-Fetch-Site, else
Origin against Host); requests with neither header, such as curl's, are
served. The login throttle lets each client address BUSYWORK_LOGIN_BURST
(default 5) requests at once, then one per BUSYWORK_LOGIN_INTERVAL (default
10s), remembering up to 10,000 clients. The address is the connection's
peer; behind a load balancer set BUSYWORK_TRUST_FORWARDED_FOR=true to take
the last X-Forwarded-For entry instead (only if the balancer always sets
it). IPv6 clients count by /64. The order throttle lets each signed-in user
place BUSYWORK_ORDER_BURST (default 3) orders at once, then one per
BUSYWORK_ORDER_INTERVAL (default 1m); an order is at most 1000 tickets.

Every answer carries a Content-Security-Policy (no inline script, no
framing), X-Content-Type-Options: nosniff and Referrer-Policy: no-referrer.

Sends are micro-batched (concurrent requests share one SQS call). The worker
('busywork worker') mails the links, pointing at BUSYWORK_BASE_URL (default
http://127.0.0.1:8080); the session cookie is Secure when that is https.

On SIGTERM or SIGINT it stops accepting connections, lets requests in flight
finish (up to 10s) and exits 0. Logs are JSON lines on stderr.

With OTEL_EXPORTER_OTLP_ENDPOINT set (an OpenTelemetry collector's OTLP/HTTP
address), every request is a span named by its route, and the jobs it sends
carry its trace to the worker.
`,
}

func runWeb(ctx context.Context, inv *busywork.Invocation) error {
	if err := inv.NoArgs(); err != nil {
		return err
	}
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	settings, err := inv.Settings()
	if err != nil {
		return err
	}
	awsCfg, err := inv.AWS(ctx)
	if err != nil {
		return err
	}
	log, err := inv.Logger()
	if err != nil {
		return err
	}

	// The request path's clients retry within its 1 s deadline. The
	// producer keeps its unique keys (repeated orders) in the table.
	webAWS := awsclient.Interactive(awsCfg)
	store := ddb.New(awsclient.NewDynamoDB(webAWS), settings.Table)
	router, err := inv.Router(ctx, sqs.NewFromConfig(webAWS), producer.WithBatching(producer.SuggestedBatchWindow),
		producer.WithUniqueStore(store))
	if err != nil {
		return err
	}
	routes, err := inv.Routes(ctx)
	if err != nil {
		return err
	}
	app := webapp.New(webapp.Config{
		Sender:  router,
		Store:   store,
		BaseURL: cfg.BaseURL,
		Logger:  log,
		Routes:  routes,
		Metrics: busywork.NewMetricsRegistry(),

		LoginBurst:        cfg.LoginBurst,
		LoginInterval:     cfg.LoginInterval,
		OrderBurst:        cfg.OrderBurst,
		OrderInterval:     cfg.OrderInterval,
		TrustForwardedFor: cfg.TrustForwardedFor,
		Tracing:           inv.Tracing(),
	})

	ln, err := net.Listen("tcp", cfg.WebAddr)
	if err != nil {
		return fmt.Errorf("web listener (BUSYWORK_WEB_ADDR): %w", err)
	}
	log.Info("web listening", "addr", ln.Addr().String())
	return serveUntilDone(ctx, log, ln, app)
}

// serveUntilDone serves h on ln until ctx ends, then shuts the server down
// gracefully, closing it if requests outlast webShutdownTimeout.
func serveUntilDone(ctx context.Context, log *slog.Logger, ln net.Listener, h http.Handler) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: webReadHeaderTimeout,
		ReadTimeout:       webReadTimeout,
		WriteTimeout:      webWriteTimeout,
		IdleTimeout:       webIdleTimeout,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	select {
	case err := <-serveErr:
		return fmt.Errorf("web server: %w", err)
	case <-ctx.Done():
	}
	log.Info("web shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), webShutdownTimeout)
	defer cancel()
	err := srv.Shutdown(shutdownCtx)
	if err != nil {
		log.Error("web server shutdown", "error", err)
		err = errors.Join(err, srv.Close())
	}
	if serr := <-serveErr; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}
