package main

import (
	"context"
	"flag"
	"fmt"

	"github.com/busywork/busywork"
	"github.com/busywork/busywork/awsclient"
	"github.com/busywork/busywork/ddb"
	"github.com/busywork/busywork/demo"
)

var userCommand = &busywork.Command{
	Name:    "user",
	Args:    "add [--name NAME] EMAIL",
	Summary: "create a user for the magic-link demo",
	Run:     runUser,
	Help: `user add creates the user EMAIL (stored trimmed and lower-cased) in the table
BUSYWORK_TABLE (default busywork), so that a magic link requested for that
address is mailed. Adding a user who exists changes nothing.

Example:
  busywork user add --name "Ada Lovelace" ada@example.com
`,
}

func runUser(ctx context.Context, inv *busywork.Invocation) error {
	fs := flag.NewFlagSet("user", flag.ContinueOnError)
	if err := inv.ParseFlags(fs, inv.Args); err != nil {
		return err
	}
	switch {
	case fs.NArg() == 0:
		return busywork.Usagef("missing subcommand add")
	case fs.Arg(0) != "add":
		return busywork.Usagef("unknown subcommand %q (known: add)", fs.Arg(0))
	}
	add := flag.NewFlagSet("user add", flag.ContinueOnError)
	name := add.String("name", "", "the user's display name")
	if err := inv.ParseFlags(add, fs.Args()[1:]); err != nil {
		return err
	}
	switch add.NArg() {
	case 0:
		return busywork.Usagef("missing argument EMAIL")
	case 1:
	default:
		return busywork.Usagef("unexpected argument %q after EMAIL", add.Arg(1))
	}
	email := ddb.NormalizeEmail(add.Arg(0))
	if err := (demo.MagicLink{Email: email}).Validate(); err != nil {
		return busywork.Usagef("%v", err)
	}
	settings, err := inv.Settings()
	if err != nil {
		return err
	}
	awsCfg, err := inv.AWS(ctx)
	if err != nil {
		return err
	}
	if err := ddb.New(awsclient.NewDynamoDB(awsCfg), settings.Table).PutUser(ctx, email, *name); err != nil {
		return err
	}
	_, err = fmt.Fprintf(inv.Stdout, "user %s is there\n", email)
	return err
}
