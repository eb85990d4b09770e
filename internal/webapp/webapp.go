package webapp

import (
	"cmp"
	"context"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/busywork/busywork/ddb"
	"github.com/busywork/busywork/handlers"
	"github.com/busywork/busywork/internal/secheaders"
	"github.com/busywork/busywork/internal/style"
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

// Store is the part of *ddb.Store the app uses: reading and spending
// magic-link tokens, starting, reading and ending sessions, and reading
// the progress of ticket orders.
type Store interface {
	PeekToken(ctx context.Context, token string, now time.Time) (string, error)
	ConsumeToken(ctx context.Context, token string, now time.Time) (string, error)
	CreateSession(ctx context.Context, email string, ttl time.Duration) (string, error)
	GetSession(ctx context.Context, id string, now time.Time) (string, error)
	DeleteSession(ctx context.Context, id string) error
	OrderStatus(ctx context.Context, id string) (ddb.OrderStatus, error)
}

// Config configures the app. The zero value of each optional field selects
// the default documented on it.
type Config struct {
	// Sender enqueues the magic_link and ticket_order jobs (a
	// *producer.Producer or Router), with a unique store
	// (producer.WithUniqueStore) for the orders. Required.
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
	// Routes is the routing table of job types to lanes, which names the
	// lanes in the action GET /orders/{id} suggests for a stalled order.
	// nil means handlers.Routes().
	Routes producer.Routes
	// Metrics, when set, receives the app's metrics (busywork_web_*, see
	// the package comment), and GET /metrics serves all it holds in
	// Prometheus's format. nil records and serves none.
	Metrics *prometheus.Registry

	// LoginBurst is how many POST /auth/magic-link requests one client
	// may make at once; after that it earns one per LoginInterval, and a
	// request over the limit gets 429 with Retry-After (whatever the
	// address, so the answers still say nothing about who has an
	// account). 0 means DefaultLoginBurst.
	LoginBurst int
	// LoginInterval is how often a client earns one more request once its
	// burst is spent. 0 means DefaultLoginInterval.
	LoginInterval time.Duration
	// OrderBurst is how many POST /orders one signed-in user may make at
	// once; after that the user earns one per OrderInterval, and an order
	// over the limit gets 429 with Retry-After and is not enqueued. 0
	// means DefaultOrderBurst. Each order is at most demo.MaxTickets
	// tickets.
	OrderBurst int
	// OrderInterval is how often a user earns one more order once the
	// burst is spent. 0 means DefaultOrderInterval.
	OrderInterval time.Duration
	// TrustForwardedFor makes the throttle take a client's address from
	// the last entry of X-Forwarded-For, as a load balancer in front of
	// the app appends it. Leave it off unless such a proxy always sets
	// the header: a client could write any address there. Off, the client
	// is the connection's peer (RemoteAddr), which behind a proxy is the
	// proxy itself.
	TrustForwardedFor bool
	// Tracing makes every request a server span of the global
	// OpenTelemetry TracerProvider (otelhttp), named by its route, as in
	// "POST /auth/magic-link"; the jobs it sends continue its trace
	// (give the Sender a producer.Tracer). The app faces the internet, so
	// a request's own trace context is linked, not continued: a client
	// cannot choose the trace or its sampling.
	Tracing bool
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
	throttle      *throttle // logins, per client address
	orders        *throttle // orders, per signed-in user
	trustForward  bool
	routes        producer.Routes
}

// New returns the app's handler. Cross-origin POSTs are refused with 403
// (http.CrossOriginProtection: a browser's Sec-Fetch-Site header, else its
// Origin against the Host; a request with neither, such as curl's, is
// let through). Every response carries secheaders.Wrap's. It panics if cfg.Sender or cfg.Store is nil, or a setting
// is negative. It starts no goroutine and makes no network call.
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
	if cfg.LoginBurst < 0 || cfg.LoginInterval < 0 || cfg.OrderBurst < 0 || cfg.OrderInterval < 0 {
		panic("webapp.New: Config.LoginBurst, LoginInterval, OrderBurst and OrderInterval must not be negative")
	}
	a.throttle = newThrottle(cmp.Or(cfg.LoginInterval, DefaultLoginInterval), cmp.Or(cfg.LoginBurst, DefaultLoginBurst),
		MaxThrottledClients, a.now)
	a.orders = newThrottle(cmp.Or(cfg.OrderInterval, DefaultOrderInterval), cmp.Or(cfg.OrderBurst, DefaultOrderBurst),
		MaxThrottledClients, a.now)
	a.trustForward = cfg.TrustForwardedFor
	a.routes = cfg.Routes
	if a.routes == nil {
		a.routes = handlers.Routes()
	}

	mux := http.NewServeMux()
	if cfg.Metrics != nil {
		a.metrics = newMetrics(cfg.Metrics)
		a.sender = meteredSender{next: a.sender, m: a.metrics}
		mux.Handle("GET /metrics", promhttp.HandlerFor(cfg.Metrics, promhttp.HandlerOpts{}))
	}
	mux.HandleFunc("GET /{$}", a.index)
	mux.HandleFunc("POST /auth/magic-link", a.requestLink)
	mux.HandleFunc("GET /auth/verify", a.confirm)
	mux.HandleFunc("POST /auth/verify", a.verify)
	mux.HandleFunc("POST /auth/sign-out", a.signOut)
	mux.HandleFunc("POST /orders", a.order)
	mux.HandleFunc("GET /orders/{id}", a.orderStatus)
	mux.HandleFunc("GET /healthz", healthz)
	mux.HandleFunc("GET /static/order.js", script)
	mux.Handle("GET /static/app.css", style.Sheet(ownStyle))

	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(a.crossOrigin))
	h := secheaders.Wrap(a.serve(cop.Handler(mux)))
	if cfg.Tracing {
		h = otelhttp.NewHandler(h, "", otelhttp.WithPublicEndpointFn(func(*http.Request) bool { return true }))
	}
	return h
}

// serve runs every request through h (the mux behind the cross-origin
// check) under a deadline of RequestTimeout, which every AWS call a
// handler makes inherits from the request's context, and counts it by
// route and status code.
func (a *app) serve(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), RequestTimeout)
		defer cancel()
		r = r.WithContext(ctx)
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		h.ServeHTTP(rec, r) // the mux sets r.Pattern; a refused request has none
		a.metrics.request(r.Pattern, rec.code)
		nameSpan(ctx, r.Pattern)
	})
}

// nameSpan names the request's span (with Config.Tracing) by its route
// pattern, such as "POST /auth/magic-link", once the mux has matched it.
func nameSpan(ctx context.Context, pattern string) {
	span := trace.SpanFromContext(ctx)
	if pattern == "" || !span.IsRecording() {
		return
	}
	span.SetName(pattern)
	_, route, _ := strings.Cut(pattern, " ")
	span.SetAttributes(semconv.HTTPRoute(route))
}

func isHTTPS(baseURL string) bool {
	return strings.HasPrefix(strings.ToLower(strings.TrimSpace(baseURL)), "https://")
}

func healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok\n")) // a failed write is the client's problem
}
