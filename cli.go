package busywork

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/busywork/busywork/producer"
)

// Exit statuses of Run.
const (
	ExitOK    = 0 // the command did what it was asked
	ExitFail  = 1 // the work failed
	ExitUsage = 2 // bad usage or configuration
)

// Command is one subcommand of a binary built on the runtime: the
// runtime's own (bootstrap, worker, send, cancel, dlq, health, version) and an
// App's.
type Command struct {
	// Name is the word that runs it, as in "worker".
	Name string
	// Args are its arguments, for its usage line, as in "[--lanes LANE,...]".
	Args string
	// Summary is its line in the binary's help.
	Summary string
	// Help is what its --help prints after the usage line. "{name}" in it
	// stands for the binary's name.
	Help string
	// Run runs it. An error from Usagef or ConfigErrorf exits 2 with its
	// message and, for a usage error, a pointer to --help; ErrHelp exits 0;
	// any other error exits 1.
	Run func(ctx context.Context, inv *Invocation) error
}

// Invocation is one run of a command: its arguments, where it writes, and
// the runtime it belongs to.
type Invocation struct {
	// Command is the command run.
	Command *Command
	// Args are its arguments, after its name.
	Args []string
	// Stdout and Stderr are where it writes.
	Stdout, Stderr io.Writer
	app            *App
}

// Name returns the binary's name (App.Name).
func (inv *Invocation) Name() string { return inv.app.name() }

// ErrHelp is returned by a command that printed its help as asked.
var ErrHelp = errors.New("help printed")

// usageError is bad usage of a command; the command exits 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// Usagef returns an error that says a command was used wrongly: Run prints
// it with a pointer to the command's --help and exits 2.
func Usagef(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

// configError is a bad environment value; the command exits 2.
type configError struct{ msg string }

func (e *configError) Error() string { return e.msg }

// ConfigErrorf returns an error that says the configuration is wrong, in
// words that name the setting (BUSYWORK_TABLE=...: ...): Run prints it and
// exits 2.
func ConfigErrorf(format string, args ...any) error {
	return &configError{fmt.Sprintf(format, args...)}
}

// ParseFlags parses args into fs. It prints the command's help to Stdout
// and returns ErrHelp for -h or --help, and a usage error for a bad flag.
func (inv *Invocation) ParseFlags(fs *flag.FlagSet, args []string) error {
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		inv.printUsage(inv.Stdout)
		return ErrHelp
	case err != nil:
		return Usagef("%v", err)
	}
	return nil
}

// NoArgs parses the arguments of a command that takes no flags and no
// positional arguments: only -h and --help.
func (inv *Invocation) NoArgs() error {
	fs := flag.NewFlagSet(inv.Command.Name, flag.ContinueOnError)
	if err := inv.ParseFlags(fs, inv.Args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return Usagef("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

func (inv *Invocation) printUsage(w io.Writer) {
	usage := inv.Name() + " " + inv.Command.Name
	if inv.Command.Args != "" {
		usage += " " + inv.Command.Args
	}
	help := strings.ReplaceAll(inv.Command.Help, "{name}", inv.Name())
	if strings.Contains(help, "{types}") {
		help = strings.ReplaceAll(help, "{types}", inv.app.typeList())
	}
	fmt.Fprintf(w, "Usage: %s\n\n%s", usage, help)
}

// runtimeCommands are the runtime's commands, in the order help lists them.
var runtimeCommands = []*Command{bootstrapCommand, workerCommand, sendCommand, cancelCommand, dlqCommand, batchCommand, healthCommand, versionCommand, consoleCommand}

// commands returns the runtime's commands, each replaced by app's of the
// same name if it has one, and then app's others.
func (app *App) commands() []*Command {
	cs := make([]*Command, 0, len(runtimeCommands)+len(app.Commands))
	own := slices.Clone(app.Commands)
	for _, c := range runtimeCommands {
		if i := slices.IndexFunc(own, func(o *Command) bool { return o.Name == c.Name }); i >= 0 {
			c = own[i]
			own = slices.Delete(own, i, i+1)
		}
		cs = append(cs, c)
	}
	return append(cs, own...)
}

func (app *App) lookup(name string) *Command {
	for _, c := range app.commands() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// name returns the binary's name: App.Name, or the base name of os.Args[0].
func (app *App) name() string {
	if app.Name != "" {
		return app.Name
	}
	return filepath.Base(os.Args[0])
}

const mainUsage = `Usage:
  %[1]s <command> [arguments]

Commands:
%[2]s  help [COMMAND]   print this help, or a command's

Every command takes -h or --help. Configuration comes from the environment:
BUSYWORK_* variables (BUSYWORK_QUEUE, BUSYWORK_CONCURRENCY, ...; see
busywork's docs/configuration.md), the standard AWS ones (AWS_REGION,
AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_SQS, ..., credentials) and, for traces,
OpenTelemetry's (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_SERVICE_NAME, ...).

Exit status: 0 success, 1 failure, 2 bad usage or configuration.
`

func (app *App) printMainUsage(w io.Writer) {
	var list strings.Builder
	for _, c := range app.commands() {
		fmt.Fprintf(&list, "  %-16s %s\n", c.Name+" "+c.Args, c.Summary)
	}
	if app.Summary != "" {
		fmt.Fprintf(w, "%s\n\n", app.Summary)
	}
	fmt.Fprintf(w, mainUsage, app.name(), list.String())
}

// Run runs the command that args name (os.Args[1:]), writing to stdout
// and stderr, and returns the exit status: ExitOK, ExitFail or ExitUsage.
// SIGTERM and SIGINT end the command's context; a second signal kills the
// process at once. Main calls it; a test can too.
func (app App) Run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		app.printMainUsage(stderr)
		return ExitUsage
	}
	name := args[0]
	switch name {
	case "help", "-h", "-help", "--help":
		if name == "help" && len(args) > 1 {
			c := app.lookup(args[1])
			if c == nil {
				fmt.Fprintf(stderr, "%s help: unknown command %q (run '%s help')\n", app.name(), args[1], app.name())
				return ExitUsage
			}
			(&Invocation{Command: c, app: &app}).printUsage(stdout)
			return ExitOK
		}
		app.printMainUsage(stdout)
		return ExitOK
	}
	c := app.lookup(name)
	if c == nil {
		fmt.Fprintf(stderr, "%s: unknown command %q (run '%s help')\n", app.name(), name, app.name())
		return ExitUsage
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	// After the first signal, a second one kills the process at once.
	context.AfterFunc(ctx, stop)

	inv := &Invocation{Command: c, Args: args[1:], Stdout: stdout, Stderr: stderr, app: &app}
	err := app.runTraced(ctx, inv)
	var (
		usage *usageError
		conf  *configError
	)
	switch {
	case err == nil || errors.Is(err, ErrHelp):
		return ExitOK
	case errors.As(err, &usage):
		fmt.Fprintf(stderr, "%s %s: %v\nRun '%s %s --help' for usage.\n", app.name(), c.Name, err, app.name(), c.Name)
		return ExitUsage
	case errors.As(err, &conf):
		fmt.Fprintf(stderr, "%s %s: %v\n", app.name(), c.Name, err)
		return ExitUsage
	default:
		fmt.Fprintf(stderr, "%s %s: %v\n", app.name(), c.Name, err)
		return ExitFail
	}
}

// newLogger returns the JSON logger on w that commands log to.
func newLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}))
}

// Settings are the runtime's settings an App's own commands may need.
type Settings struct {
	// Table is the DynamoDB table (BUSYWORK_TABLE).
	Table string
	// LogLevel is the lowest level logged (BUSYWORK_LOG_LEVEL).
	LogLevel slog.Level
}

// Settings reads the runtime's settings from the environment.
func (inv *Invocation) Settings() (Settings, error) {
	cfg, err := loadConfig()
	return Settings{Table: cfg.Table, LogLevel: cfg.LogLevel}, err
}

// Logger returns a JSON logger on Stderr at BUSYWORK_LOG_LEVEL, as the
// runtime's commands log.
func (inv *Invocation) Logger() (*slog.Logger, error) {
	s, err := inv.Settings()
	if err != nil {
		return nil, err
	}
	return newLogger(inv.Stderr, s.LogLevel), nil
}

// AWS reads the runtime's settings (to refuse bad ones first) and the AWS
// configuration, loaded by awsclient.Load; no region is a configuration
// error. When the runtime traces (Tracing), the clients made from it
// trace the calls made under a span.
func (inv *Invocation) AWS(ctx context.Context) (aws.Config, error) {
	_, awsCfg, err := loadEnv(ctx)
	return awsCfg, err
}

// Routes returns the routing table: App.Routes with BUSYWORK_ROUTES over
// it, checked against the App's job types.
func (inv *Invocation) Routes(ctx context.Context) (producer.Routes, error) {
	cfg, awsCfg, err := loadEnv(ctx)
	if err != nil {
		return nil, err
	}
	known, err := inv.app.typesMux(cfg, awsCfg)
	if err != nil {
		return nil, err
	}
	return cfg.routes(inv.app, known.Types())
}

// RouterClient is the part of *sqs.Client that Invocation.Router calls.
type RouterClient interface {
	producer.SendAPI
	GetQueueUrl(ctx context.Context, in *sqs.GetQueueUrlInput, optFns ...func(*sqs.Options)) (*sqs.GetQueueUrlOutput, error)
}

// Router returns a producer that sends each job to its lane's queue by the
// routing table, through client, with opts and, when BUSYWORK_SIGNING_KEY
// is set, signing every job, and when the runtime traces (Tracing),
// tracing every send: the producer of an App's web server, or of a
// command that enqueues. It records every delayed job in the runtime's
// table (BUSYWORK_TABLE), so that it can be cancelled (producer.DelayStore;
// an option in opts may replace it). It looks every lane's queue URL up.
// For producer.Unique, pass producer.WithUniqueStore with a *ddb.Store on
// the runtime's table (Settings.Table).
func (inv *Invocation) Router(ctx context.Context, client RouterClient, opts ...func(*producer.Options)) (*producer.Router, error) {
	cfg, awsCfg, err := loadEnv(ctx)
	if err != nil {
		return nil, err
	}
	routes, err := inv.Routes(ctx)
	if err != nil {
		return nil, err
	}
	urls, err := resolveLanes(ctx, client, cfg.lanes(), inv.Name())
	if err != nil {
		return nil, err
	}
	return cfg.newRouter(client, awsCfg, urls, routes, opts...)
}
