// Command busywork runs busywork's job queue: it creates the AWS resources
// (bootstrap), serves the jobs (worker), serves the demo web app (web),
// enqueues one job from the shell (send), adds a demo user (user add),
// shows a ticket order's progress (batch status) and inspects and replays
// dead letters (dlq). Configuration comes
// from BUSYWORK_* environment variables and
// the standard AWS ones; run `busywork help` for the commands.
//
// Exit status: 0 on success, 1 when the work failed, 2 for bad usage or
// configuration.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

// Exit statuses.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// command is one subcommand.
type command struct {
	name    string
	args    string // its arguments, for the usage line
	summary string
	help    string // what follows the usage line in its --help
	run     func(ctx context.Context, c *command, out cmdIO, args []string) error
}

// cmdIO is where a command writes.
type cmdIO struct {
	stdout, stderr io.Writer
}

var commands = []*command{bootstrapCommand, workerCommand, webCommand, sendCommand, userCommand, batchCommand, dlqCommand}

const mainUsage = `busywork runs busywork's job queue on Amazon SQS.

Usage:
  busywork <command> [arguments]

Commands:
%s  help [COMMAND]   print this help, or a command's

Every command takes -h or --help. Configuration comes from the environment:
BUSYWORK_* variables (BUSYWORK_QUEUE, BUSYWORK_TABLE, BUSYWORK_CONCURRENCY, ...;
see the README) and the standard AWS ones (AWS_REGION, AWS_ENDPOINT_URL,
AWS_ENDPOINT_URL_SQS, AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL_SESV2,
credentials).

Exit status: 0 success, 1 failure, 2 bad usage or configuration.
`

func printMainUsage(w io.Writer) {
	var list string
	for _, c := range commands {
		list += fmt.Sprintf("  %-16s %s\n", c.name+" "+c.args, c.summary)
	}
	fmt.Fprintf(w, mainUsage, list)
}

func (c *command) printUsage(w io.Writer) {
	usage := "busywork " + c.name
	if c.args != "" {
		usage += " " + c.args
	}
	fmt.Fprintf(w, "Usage: %s\n\n%s", usage, c.help)
}

func lookup(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

// usageError is bad usage of a command; the command exits 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

// errHelp means the command printed its help as asked.
var errHelp = errors.New("help printed")

// run runs the command named by args and returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		printMainUsage(stderr)
		return exitUsage
	}
	name := args[0]
	switch name {
	case "help", "-h", "-help", "--help":
		if name == "help" && len(args) > 1 {
			c := lookup(args[1])
			if c == nil {
				fmt.Fprintf(stderr, "busywork help: unknown command %q (run 'busywork help')\n", args[1])
				return exitUsage
			}
			c.printUsage(stdout)
			return exitOK
		}
		printMainUsage(stdout)
		return exitOK
	}
	c := lookup(name)
	if c == nil {
		fmt.Fprintf(stderr, "busywork: unknown command %q (run 'busywork help')\n", name)
		return exitUsage
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	// After the first signal, a second one kills the process at once.
	context.AfterFunc(ctx, stop)

	err := c.run(ctx, c, cmdIO{stdout, stderr}, args[1:])
	var (
		usage *usageError
		conf  *configError
	)
	switch {
	case err == nil || errors.Is(err, errHelp):
		return exitOK
	case errors.As(err, &usage):
		fmt.Fprintf(stderr, "busywork %s: %v\nRun 'busywork %s --help' for usage.\n", c.name, err, c.name)
		return exitUsage
	case errors.As(err, &conf):
		fmt.Fprintf(stderr, "busywork %s: %v\n", c.name, err)
		return exitUsage
	default:
		fmt.Fprintf(stderr, "busywork %s: %v\n", c.name, err)
		return exitFail
	}
}

// parseFlags parses a command's flags. It prints the command's usage to
// stdout and returns errHelp for -h or --help.
func (c *command) parseFlags(fs *flag.FlagSet, out io.Writer, args []string) error {
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		c.printUsage(out)
		return errHelp
	case err != nil:
		return usagef("%v", err)
	}
	return nil
}

// parseNoArgs parses the arguments of a command that takes no flags and no
// positional arguments: only -h and --help.
func (c *command) parseNoArgs(out io.Writer, args []string) error {
	fs := flag.NewFlagSet(c.name, flag.ContinueOnError)
	if err := c.parseFlags(fs, out, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// newLogger returns the JSON logger on stderr that commands log to.
func newLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: level}))
}
