// Package busywork is the runtime of a job service on Amazon SQS: it turns a
// program's handlers and routing table into the whole command line of a
// worker service, as asynq's Server.Run and the Lambda runtime's
// lambda.Start do for theirs. A team's main is a few lines:
//
//	func main() {
//		busywork.Main(busywork.App{
//			Name: "shop",
//			Register: func(mux *consumer.Mux, env *busywork.Env) error {
//				consumer.Handle(mux, sendWelcome, consumer.Timeout(10*time.Second))
//				return nil
//			},
//		})
//	}
//
// and the binary has these commands:
//
//	bootstrap            create the lanes' queues and dead-letter queues and the table
//	worker [--lanes ...] serve the jobs until SIGTERM, with /healthz and /metrics
//	send [--delay D | --at TIME] TYPE JSON
//	                     enqueue one job, checked against the binary's own job types
//	cancel JOB_ID        cancel a delayed job until it starts (package delays)
//	dlq stats|peek|replay|tasks
//	                     inspect and replay dead letters
//	batch status|repair GROUP_ID
//	                     a fan-out group's progress (package groups), or finish a stalled one
//	console              serve the operator's web console: lanes, dead letters, groups
//	health               probe the worker's /healthz (a container health check)
//	version              print App.Version
//
// plus the App's own (Commands), all with --help, configured by BUSYWORK_*
// and the standard AWS environment variables (docs/configuration.md); a
// bad value exits 2 naming the variable. With OTEL_EXPORTER_OTLP_ENDPOINT
// set, every command exports OpenTelemetry traces, and a job's run is in
// the trace of the request that sent it (package tracing).
//
// A job runs on one of three lanes, each its own queue and dead-letter
// queue: critical (a person waits for it), default, and bulk. App.Routes
// and BUSYWORK_ROUTES say which; the worker serves every lane or those
// --lanes names, with a concurrency limit per lane, and the producer the
// runtime gives handlers (Env.Queue) sends follow-up jobs to their lanes.
//
// The packages under it can be used apart: producer sends jobs, consumer is
// the worker engine, metrics records it in Prometheus, awsclient gives SDK
// clients the configuration and HTTP client the runtime uses.
package busywork

import (
	"context"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/busywork/busywork/awsclient"
	"github.com/busywork/busywork/consumer"
	"github.com/busywork/busywork/ddb"
	"github.com/busywork/busywork/delays"
	"github.com/busywork/busywork/groups"
	"github.com/busywork/busywork/jobs"
	"github.com/busywork/busywork/producer"
	"github.com/busywork/busywork/ratelimit"
)

// App is a service built on the runtime: its handlers, where their jobs
// run, and commands of its own.
type App struct {
	// Name is the binary's name, in its help and messages. Default: the
	// base name of os.Args[0].
	Name string
	// Summary is the first line of the binary's help.
	Summary string
	// Version is what the version command prints; stamp it at build time
	// (-ldflags "-X main.version=v1.2.3") and pass it on. Default "dev".
	Version string
	// Register registers the App's handlers (and middleware) on mux, with
	// what the runtime built from the environment. The worker calls it
	// before it serves, with env.Serving set; other commands call it to
	// learn the App's job types (send checks a job as the worker will),
	// with env.Serving false and env.Queue nil. It must make no network
	// call; an error from ConfigErrorf exits 2.
	Register func(mux *consumer.Mux, env *Env) error
	// Routes maps job types to lanes (producer.LaneCritical, LaneDefault,
	// LaneBulk); a type it leaves out runs on the default lane.
	// BUSYWORK_ROUTES overrides it.
	Routes producer.Routes
	// Commands are the App's own commands, listed after the runtime's.
	// One named like a runtime command replaces it (the demo's batch
	// knows ticket orders).
	Commands []*Command
	// DescribeGroups, when set, lets the console (the console command)
	// show the App's fan-out groups in its own words, as the demo shows
	// its ticket orders: the console calls it once as it starts, and the
	// GroupDescriber it returns for every group it shows. Without it the
	// console shows every group as the runtime's batch status does.
	DescribeGroups func(ctx context.Context, inv *Invocation) (GroupDescriber, error)
}

// Env is what the runtime gives App.Register.
type Env struct {
	// AWS is the AWS configuration, loaded by awsclient.Load. When the
	// runtime traces (Invocation.Tracing), the clients made from it trace
	// the calls a handler makes with its context, as children of the
	// job's span.
	AWS aws.Config
	// Queue sends jobs to their lanes by the routing table: for the
	// follow-up jobs a handler enqueues. Its sends take producer.Unique,
	// whose keys it keeps in Table. Nil unless Serving.
	Queue *producer.Router
	// Logger is the worker's JSON logger.
	Logger *slog.Logger
	// Table is the DynamoDB table the runtime uses (BUSYWORK_TABLE), for
	// an App that keeps its own items there.
	Table string
	// Serving is set when the worker is about to serve the App's jobs,
	// and unset when a command only needs the App's job types.
	Serving bool
	// Groups starts fan-out groups (package groups) in the runtime's
	// table: child jobs that run anywhere, and a follow-up job enqueued
	// once when the last is done. The runtime installs its middleware
	// around every handler, outside the App's own. It can start groups
	// only when Serving.
	Groups *groups.Groups
	// Delays cancels delayed jobs (package delays) in the runtime's
	// table: a job sent with producer.Delay or producer.At, until it
	// starts. The runtime installs its middleware outermost, so a
	// cancelled job runs nothing, and the producers it builds (Queue,
	// the send command, Invocation.Router) record every delayed job.
	Delays *delays.Delays

	// limits are the configured rate limits (BUSYWORK_RATE_LIMITS).
	limits map[string]ratelimit.Rate
	// limiters are the limits handed out, by name.
	limiters map[string]*ratelimit.Limiter
	// store keeps groups, delayed jobs and limits in the runtime's table.
	store *ddb.Store
}

// MailLimit is the name of the limit that handlers sending mail through
// SES share: unless BUSYWORK_RATE_LIMITS sets it, the worker sets it to
// the account's sending rate (SES v2 GetAccount) when it starts, and
// leaves mail unlimited where the endpoint does not answer.
const MailLimit = "mail"

// Limiter returns the fleet-wide rate limit called name, for
// consumer.RateLimit: handlers that share a limit ask for it by the same
// name. Its rate is BUSYWORK_RATE_LIMITS's entry for name; without one it
// limits nothing and costs nothing (MailLimit excepted, see there). A job
// type named in BUSYWORK_RATE_LIMITS gets its own limit without asking,
// in place of any given at its registration.
func (e *Env) Limiter(name string) consumer.Limiter {
	return e.limiter(name)
}

func (e *Env) limiter(name string) *ratelimit.Limiter {
	if l, ok := e.limiters[name]; ok {
		return l
	}
	if e.limiters == nil {
		e.limiters = map[string]*ratelimit.Limiter{}
	}
	l := ratelimit.New(e.store, name, e.limits[name])
	e.limiters[name] = l
	return l
}

// applyLimits gives each job type BUSYWORK_RATE_LIMITS names its limit,
// and refuses a name that is neither a type nor a limit the handlers
// asked for.
func (e *Env) applyLimits(mux *consumer.Mux) error {
	types := mux.Types()
	for _, name := range slices.Sorted(maps.Keys(e.limits)) {
		switch _, asked := e.limiters[name]; {
		case slices.Contains(types, name):
			if err := mux.Limit(name, e.limiter(name)); err != nil {
				return err
			}
		case !asked:
			return ConfigErrorf("%s_RATE_LIMITS: %q is neither a job type (%s) nor a limit the handlers share (%s)",
				envPrefix, name, strings.Join(types, ", "), strings.Join(slices.Sorted(maps.Keys(e.limiters)), ", "))
		}
	}
	return nil
}

// Main runs the command that os.Args names and exits with its status; see
// App.Run.
func Main(app App) {
	os.Exit(app.Run(os.Args[1:], os.Stdout, os.Stderr))
}

// mux returns the App's handlers registered on a new Mux, for env, with
// the middleware of env's Delays and Groups (which it sets) outermost,
// inside the job's span when traces are on.
func (app *App) mux(env *Env) (*consumer.Mux, error) {
	mux := consumer.NewMux()
	if app.Register == nil {
		return nil, ConfigErrorf("%s has no handlers: App.Register is nil", app.name())
	}
	var queue groups.Sender
	if env.Queue != nil {
		queue = env.Queue
	}
	env.store = ddb.New(awsclient.NewDynamoDB(env.AWS), env.Table)
	env.Groups = groups.New(env.store, queue, groups.Options{Logger: env.Logger})
	env.Delays = delays.New(env.store, delays.Options{Logger: env.Logger})
	traceJobs(mux)
	mux.Use(env.Delays.Middleware(), env.Groups.Middleware())
	if err := app.Register(mux, env); err != nil {
		return nil, err
	}
	if !slices.Contains(mux.Types(), jobs.TypePing) {
		consumer.Handle(mux, (&pinger{Logger: env.Logger}).handle, consumer.Timeout(PingTimeout))
	}
	if err := env.applyLimits(mux); err != nil {
		return nil, err
	}
	return mux, nil
}

// typesMux returns the App's handlers on a Mux registered with a
// non-serving Env: for their job types.
func (app *App) typesMux(cfg config, awsCfg aws.Config) (*consumer.Mux, error) {
	return app.mux(&Env{AWS: awsCfg, Logger: slog.New(slog.DiscardHandler), Table: cfg.Table, limits: cfg.limits})
}

// typeList returns the App's job types, for help: its handlers registered
// with a non-serving Env and no AWS configuration (Register makes no
// network call), or why they cannot be listed.
func (app *App) typeList() string {
	mux, err := app.mux(&Env{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return "(cannot list them: " + err.Error() + ")"
	}
	return strings.Join(mux.Types(), ", ")
}

// mailRate sets MailLimit, if a handler asked for it and
// BUSYWORK_RATE_LIMITS does not set it, to the SES account's sending
// rate, and logs the rate mail goes out at.
func (e *Env) mailRate(ctx context.Context, ses ratelimit.AccountAPI) {
	l, asked := e.limiters[MailLimit]
	if !asked {
		return
	}
	if _, set := e.limits[MailLimit]; !set {
		rate, err := ratelimit.SESRate(ctx, ses)
		if err != nil {
			e.Logger.Warn("mail is not rate limited: SES did not tell its sending rate; set "+envPrefix+"_RATE_LIMITS=mail=N/s",
				"error", err)
			return
		}
		l.SetRate(rate)
	}
	e.Logger.Info("mail rate limit", "rate", l.Rate().String())
}
