package busywork

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/busywork/busywork/awsclient"
	"github.com/busywork/busywork/ddb"
	"github.com/busywork/busywork/groups"
	"github.com/busywork/busywork/internal/console"
	"github.com/busywork/busywork/producer"
)

// MinConsolePassword is the shortest BUSYWORK_CONSOLE_PASSWORD the
// console takes.
const MinConsolePassword = 16

// GroupView is an App's own words for one of its fan-out groups, shown
// by the console beside the group's progress.
type GroupView struct {
	// Kind says what the group is, as in "ticket order".
	Kind string
	// Title describes this one, as in "Gophercon, 40 tickets".
	Title string
	// Action, when set, replaces the runtime's advice on what finishes
	// the group (batch status's action).
	Action string
}

// GroupDescriber describes one fan-out group in an App's words, for the
// console; ok is false when the group is none of the App's own kinds,
// which the console then shows as a plain group.
type GroupDescriber func(ctx context.Context, g ddb.Batch) (v GroupView, ok bool, err error)

// consoleSettings are the console's variables.
type consoleSettings struct {
	// Addr is where the console listens.
	Addr string `envconfig:"CONSOLE_ADDR" default:"127.0.0.1:8081"`
	// AllowRemote lets Addr be beyond the loopback interface.
	AllowRemote bool `envconfig:"CONSOLE_ALLOW_REMOTE"`
	// Password, when set, is asked of every request; required beyond
	// the loopback interface.
	Password string `envconfig:"CONSOLE_PASSWORD"`
	// Metrics lists the workers' metrics URLs, comma-separated.
	Metrics string `envconfig:"CONSOLE_METRICS"`

	// remote is set when Addr is beyond the loopback interface.
	remote bool
	// metrics is Metrics, parsed.
	metrics []string
}

// loadConsoleSettings reads the console's variables and refuses an
// address beyond the loopback interface unless it is allowed and a
// password guards it.
func loadConsoleSettings() (consoleSettings, error) {
	var s consoleSettings
	if err := LoadEnv(&s); err != nil {
		return s, err
	}
	loopback, err := console.LoopbackAddr(s.Addr)
	if err != nil {
		return s, ConfigErrorf("%s_CONSOLE_ADDR=%q: %v", envPrefix, s.Addr, err)
	}
	s.remote = !loopback
	switch {
	case s.remote && !s.AllowRemote:
		return s, ConfigErrorf("%[1]s_CONSOLE_ADDR=%[2]s is not on the loopback interface: the console replays and purges dead letters "+
			"with your AWS credentials, so it listens on 127.0.0.1, [::1] or localhost only, unless %[1]s_CONSOLE_ALLOW_REMOTE=true "+
			"(which also needs %[1]s_CONSOLE_PASSWORD)", envPrefix, s.Addr)
	case s.remote && s.Password == "":
		return s, ConfigErrorf("%[1]s_CONSOLE_PASSWORD is not set: a console listening beyond the loopback interface (%[1]s_CONSOLE_ADDR=%[2]s) "+
			"asks every request for it; set a long random one (openssl rand -base64 24)", envPrefix, s.Addr)
	case s.Password != "" && len([]rune(s.Password)) < MinConsolePassword:
		return s, ConfigErrorf("%s_CONSOLE_PASSWORD: %d characters; want at least %d (openssl rand -base64 24)",
			envPrefix, len([]rune(s.Password)), MinConsolePassword)
	}
	if s.metrics, err = console.ParseMetricsURLs(s.Metrics); err != nil {
		return s, ConfigErrorf("%s_CONSOLE_METRICS: %v", envPrefix, err)
	}
	return s, nil
}

var consoleCommand = &Command{
	Name:    "console",
	Args:    "[--interval D]",
	Summary: "serve the operator's web console: lanes, dead letters, groups",
	Run:     runConsole,
	Help: `console serves a web console on BUSYWORK_CONSOLE_ADDR (default
127.0.0.1:8081) for an operator, run with the operator's own AWS
credentials: it is not part of the worker or a web app. Open the address
in a browser. The page shows, refreshed live:

  - every lane: its queue and DLQ, the messages waiting, in flight and
    delayed, a bound on the age of the oldest, the backlog's change a
    second, the workers' rate (with BUSYWORK_CONSOLE_METRICS), and a
    chart of the backlog over the last 15 minutes;
  - each lane's dead letters counted by type and cause (as dlq stats
    does), a few bodies on demand, and per row Replay (at a rate you
    choose, send before delete) and Purge (deletes that row's letters
    only, for good);
  - fan-out groups by id, and those that want a look (a bounded scan of
    the table): progress, failed children and why, a stalled follow-up
    and why, what to do, and Repair.

Every --interval (default 5s, 1s to 1m) it reads each lane's queue and
DLQ counts (two GetQueueAttributes calls a lane) and the workers' metrics.
Counting dead letters receives each once, as dlq stats does.

Security: every change is a POST from the console's own page, with a
token tied to that page and the browser's console cookie, so another site
cannot replay or purge through your browser. It answers only requests
addressed to a loopback name. It refuses to listen beyond the loopback
interface unless BUSYWORK_CONSOLE_ALLOW_REMOTE=true, and then requires
BUSYWORK_CONSOLE_PASSWORD (HTTP basic authentication, any user name; at
least 16 characters). It serves plain HTTP: beyond the loopback, put it
behind TLS (a proxy or an SSH tunnel).

  BUSYWORK_CONSOLE_ADDR          where it listens (default 127.0.0.1:8081)
  BUSYWORK_CONSOLE_ALLOW_REMOTE  true to listen beyond the loopback interface
  BUSYWORK_CONSOLE_PASSWORD      asked of every request when set; required remotely
  BUSYWORK_CONSOLE_METRICS       the workers' /metrics URLs, comma-separated
                                 (http://10.0.0.5:9090,...): the fleet's rate

SIGTERM or SIGINT stops it: a replay or purge under way finishes the batch
it holds and releases the rest.

Examples:
  {name} console
  BUSYWORK_CONSOLE_METRICS=http://127.0.0.1:9090 {name} console --interval 2s
`,
}

func runConsole(ctx context.Context, inv *Invocation) error {
	fs := flag.NewFlagSet("console", flag.ContinueOnError)
	interval := fs.Duration("interval", console.DefaultInterval, "how often to read the queues and refresh the page")
	if err := inv.ParseFlags(fs, inv.Args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return Usagef("unexpected argument %q", fs.Arg(0))
	case *interval < time.Second || *interval > time.Minute:
		return Usagef("--interval %s: want 1s to 1m", *interval)
	}
	set, err := loadConsoleSettings()
	if err != nil {
		return err
	}
	log, err := inv.Logger()
	if err != nil {
		return err
	}
	cfg, awsCfg, err := loadEnv(ctx)
	if err != nil {
		return err
	}
	queues, err := openDLQs(ctx, inv.Name(), allLanes, true)
	if err != nil {
		return err
	}
	lanes := make([]console.Lane, len(queues))
	for i, l := range cfg.lanes() { // openDLQs opens them in this order
		lanes[i] = console.Lane{Name: l.name, Queue: queues[i]}
	}
	client := sqs.NewFromConfig(awsCfg)
	router, err := inv.Router(ctx, client, producer.WithTimeout(repairTimeout))
	if err != nil {
		return err
	}
	dynamo := awsclient.NewDynamoDB(awsCfg)
	store := ddb.New(dynamo, cfg.Table)
	describe, err := inv.groupNotes(ctx)
	if err != nil {
		return err
	}
	srv, err := console.New(console.Config{
		Name: inv.Name(), Lanes: lanes, SQS: client,
		Groups:   groups.New(store, router, groups.Options{Logger: slog.New(slog.DiscardHandler)}),
		Batches:  ddb.NewScanner(dynamo, cfg.Table),
		Describe: describe,
		Metrics:  set.metrics, Interval: *interval, Password: set.Password, Remote: set.remote, Logger: log,
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", set.Addr)
	if err != nil {
		return fmt.Errorf("console listener (%s_CONSOLE_ADDR): %w", envPrefix, err)
	}
	log.Info("console listening", "addr", ln.Addr().String(), "url", "http://"+ln.Addr().String()+"/")
	if set.remote {
		log.Warn("console: listening beyond the loopback interface over plain HTTP: reach it through TLS or a tunnel, or its password crosses the network in the clear")
	}
	err = srv.Serve(ctx, ln)
	log.Info("console stopped")
	return err
}

// groupNotes returns how the console describes a group: the runtime's
// advice (as batch status gives it), in the App's words where
// App.DescribeGroups gives them.
func (inv *Invocation) groupNotes(ctx context.Context) (func(context.Context, ddb.Batch) (console.GroupNote, error), error) {
	var own GroupDescriber
	if inv.app.DescribeGroups != nil {
		var err error
		if own, err = inv.app.DescribeGroups(ctx, inv); err != nil {
			return nil, err
		}
	}
	name := inv.Name()
	return func(ctx context.Context, b ddb.Batch) (console.GroupNote, error) {
		note := console.GroupNote{Action: newGroupStatus(b, time.Now(), name).Action}
		if own == nil {
			return note, nil
		}
		v, ok, err := own(ctx, b)
		if err != nil || !ok {
			return note, err
		}
		note.Kind, note.Title = v.Kind, v.Title
		if v.Action != "" {
			note.Action = v.Action
		}
		return note, nil
	}, nil
}
