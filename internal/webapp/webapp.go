package webapp

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/busywork/busywork/ddb"
	"github.com/busywork/busywork/jobs"
	"github.com/busywork/busywork/producer"
)

// DefaultSessionTTL is the default of Config.SessionTTL.
const DefaultSessionTTL = 24 * time.Hour

// MaxBodyBytes is the largest request body the app reads.
const MaxBodyBytes = 4 << 10

// RequestTimeout bounds the AWS calls of one request, all of them together,
// from when its handler starts: the same second as the producer's send
// deadline (producer.DefaultTimeout). A request whose calls have not
// answered by then answers 503 with Retry-After.
const RequestTimeout = time.Second

// Sender enqueues jobs; *producer.Producer is one.
type Sender interface {
	Send(ctx context.Context, job jobs.Job, opts ...producer.SendOption) (string, error)
}

var _ Sender = (*producer.Producer)(nil)

// Store is the part of *ddb.Store the app uses: spending magic-link tokens,
// starting sessions, and reading the progress of ticket orders.
type Store interface {
	ConsumeToken(ctx context.Context, token string, now time.Time) (string, error)
	CreateSession(ctx context.Context, email string, ttl time.Duration) (string, error)
	OrderStatus(ctx context.Context, id string) (ddb.OrderStatus, error)
}

// Config configures the app. The zero value of each optional field selects
// the default documented on it.
type Config struct {
	// Sender enqueues the magic_link jobs (a *producer.Producer). Required.
	Sender Sender
	// Store spends tokens and keeps sessions (a *ddb.Store). Required.
	Store Store
	// BaseURL is the app's public root (BUSYWORK_BASE_URL). When it is
	// https, the session cookie is Secure.
	BaseURL string
	// Logger receives a line per failed request to AWS. nil means
	// slog.Default().
	Logger *slog.Logger
	// SessionTTL is how long a login lasts. 0 means DefaultSessionTTL.
	SessionTTL time.Duration
	// Now returns the current time. nil means time.Now.
	Now func() time.Time
	// Metrics, when set, receives the app's metrics (busywork_web_*, see
	// the package comment), and GET /metrics serves all it holds in
	// Prometheus's format. nil records and serves none.
	Metrics *prometheus.Registry
}

// app holds the handlers' shared state.
type app struct {
	sender        Sender
	store         Store
	log           *slog.Logger
	sessionTTL    time.Duration
	secureCookies bool
	now           func() time.Time
	metrics       *metrics
}

// New returns the app's handler. It panics if cfg.Sender or cfg.Store is
// nil. It starts no goroutine and makes no network call.
func New(cfg Config) http.Handler {
	if cfg.Sender == nil || cfg.Store == nil {
		panic("webapp.New: Config.Sender and Config.Store are required")
	}
	a := &app{
		sender:        cfg.Sender,
		store:         cfg.Store,
		log:           cfg.Logger,
		sessionTTL:    cfg.SessionTTL,
		secureCookies: isHTTPS(cfg.BaseURL),
		now:           cfg.Now,
	}
	if a.log == nil {
		a.log = slog.Default()
	}
	if a.sessionTTL <= 0 {
		a.sessionTTL = DefaultSessionTTL
	}
	if a.now == nil {
		a.now = time.Now
	}
	mux := http.NewServeMux()
	if cfg.Metrics != nil {
		a.metrics = newMetrics(cfg.Metrics)
		a.sender = meteredSender{next: a.sender, m: a.metrics}
		mux.Handle("GET /metrics", promhttp.HandlerFor(cfg.Metrics, promhttp.HandlerOpts{}))
	}
	mux.HandleFunc("GET /{$}", a.index)
	mux.HandleFunc("POST /auth/magic-link", a.requestLink)
	mux.HandleFunc("GET /auth/verify", a.verify)
	mux.HandleFunc("POST /orders", a.order)
	mux.HandleFunc("GET /orders/{id}", a.orderStatus)
	mux.HandleFunc("GET /healthz", healthz)
	return a.serve(mux)
}

// serve runs every request through mux under a deadline of RequestTimeout,
// which every AWS call a handler makes inherits from the request's
// context, and counts it by route and status code.
func (a *app) serve(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), RequestTimeout)
		defer cancel()
		r = r.WithContext(ctx)
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		mux.ServeHTTP(rec, r) // sets r.Pattern
		a.metrics.request(r.Pattern, rec.code)
	})
}

func isHTTPS(baseURL string) bool {
	return strings.HasPrefix(strings.ToLower(strings.TrimSpace(baseURL)), "https://")
}

func healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok\n")) // a failed write is the client's problem
}
