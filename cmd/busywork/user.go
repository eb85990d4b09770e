package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/busywork/busywork/awsclient"
	"github.com/busywork/busywork/ddb"
	"github.com/busywork/busywork/jobs"
)

var userCommand = &command{
	name:    "user",
	args:    "add [--name NAME] EMAIL",
	summary: "create a user for the magic-link demo",
	run:     runUser,
	help: `user add creates the user EMAIL (stored trimmed and lower-cased) in the table
BUSYWORK_TABLE (default busywork), so that a magic link requested for that
address is mailed. Adding a user who exists changes nothing.

Example:
  busywork user add --name "Ada Lovelace" ada@example.com
`,
}

func runUser(ctx context.Context, c *command, out cmdIO, args []string) error {
	fs := flag.NewFlagSet("user", flag.ContinueOnError)
	if err := c.parseFlags(fs, out.stdout, args); err != nil {
		return err
	}
	switch {
	case fs.NArg() == 0:
		return usagef("missing subcommand add")
	case fs.Arg(0) != "add":
		return usagef("unknown subcommand %q (known: add)", fs.Arg(0))
	}
	add := flag.NewFlagSet("user add", flag.ContinueOnError)
	name := add.String("name", "", "the user's display name")
	if err := c.parseFlags(add, out.stdout, fs.Args()[1:]); err != nil {
		return err
	}
	switch add.NArg() {
	case 0:
		return usagef("missing argument EMAIL")
	case 1:
	default:
		return usagef("unexpected argument %q after EMAIL", add.Arg(1))
	}
	email := jobs.NormalizeEmail(add.Arg(0))
	if err := (jobs.MagicLink{Email: email}).Validate(); err != nil {
		return usagef("%v", err)
	}
	cfg, awsCfg, err := loadEnv(ctx)
	if err != nil {
		return err
	}
	if err := ddb.New(awsclient.NewDynamoDB(awsCfg), cfg.Table).PutUser(ctx, email, *name); err != nil {
		return err
	}
	_, err = fmt.Fprintf(out.stdout, "user %s is there\n", email)
	return err
}
