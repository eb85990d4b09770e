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
//	send TYPE JSON       enqueue one job, checked against the binary's own job types
//	dlq stats|peek|replay|tasks
//	                     inspect and replay dead letters
//	batch status|repair GROUP_ID
//	                     a fan-out group's progress (package groups), or finish a stalled one
//	health               probe the worker's /healthz (a container health check)
//	version              print App.Version
//
// plus the App's own (Commands), all with --help, configured by BUSYWORK_*
// and the standard AWS environment variables (docs/configuration.md); a
// bad value exits 2 naming the variable.
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
	"log/slog"
	"os"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/busywork/busywork/awsclient"
	"github.com/busywork/busywork/consumer"
	"github.com/busywork/busywork/ddb"
	"github.com/busywork/busywork/groups"
	"github.com/busywork/busywork/jobs"
	"github.com/busywork/busywork/producer"
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
}

// Env is what the runtime gives App.Register.
type Env struct {
	// AWS is the AWS configuration, loaded by awsclient.Load.
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
}

// Main runs the command that os.Args names and exits with its status; see
// App.Run.
func Main(app App) {
	os.Exit(app.Run(os.Args[1:], os.Stdout, os.Stderr))
}

// mux returns the App's handlers registered on a new Mux, for env, with
// the middleware of env's Groups (which it sets) outermost.
func (app *App) mux(env *Env) (*consumer.Mux, error) {
	mux := consumer.NewMux()
	if app.Register == nil {
		return nil, ConfigErrorf("%s has no handlers: App.Register is nil", app.name())
	}
	var queue groups.Sender
	if env.Queue != nil {
		queue = env.Queue
	}
	env.Groups = groups.New(ddb.New(awsclient.NewDynamoDB(env.AWS), env.Table), queue, groups.Options{Logger: env.Logger})
	mux.Use(env.Groups.Middleware())
	if err := app.Register(mux, env); err != nil {
		return nil, err
	}
	if !slices.Contains(mux.Types(), jobs.TypePing) {
		consumer.Handle(mux, (&pinger{Logger: env.Logger}).handle, consumer.Timeout(PingTimeout))
	}
	return mux, nil
}

// typesMux returns the App's handlers on a Mux registered with a
// non-serving Env: for their job types.
func (app *App) typesMux(cfg config, awsCfg aws.Config) (*consumer.Mux, error) {
	return app.mux(&Env{AWS: awsCfg, Logger: slog.New(slog.DiscardHandler), Table: cfg.Table})
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
