package main

import (
	"context"
	"fmt"
)

// version is busywork's version, stamped at build time (the Dockerfile
// does it):
//
//	go build -ldflags "-X main.version=v1.2.3" ./cmd/busywork
//
// A build without the stamp says "dev".
var version = "dev"

var versionCommand = &command{
	name:    "version",
	summary: "print busywork's version",
	run:     runVersion,
	help: `Prints the version stamped into the binary at build time (-ldflags
"-X main.version=..."; the container image's build argument VERSION), or
"dev" for a build without one.
`,
}

func runVersion(_ context.Context, c *command, out cmdIO, args []string) error {
	if err := c.parseNoArgs(out.stdout, args); err != nil {
		return err
	}
	_, err := fmt.Fprintln(out.stdout, version)
	return err
}
