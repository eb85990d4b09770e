// Command busywork is the demo of busywork, built on its runtime (package
// busywork) as a team's own service would be: magic-link logins and ticket
// orders fanned out to one PDF job per ticket, mailed through SES v2. On
// top of the runtime's commands (bootstrap, worker, send, dlq, console,
// health, version) it has the demo's: web (the web app), user add and batch
// status|repair (a ticket order's progress). Configuration comes from
// BUSYWORK_* environment variables and the standard AWS ones; run
// `busywork help` for the commands.
//
// Exit status: 0 on success, 1 when the work failed, 2 for bad usage or
// configuration.
package main

import (
	"github.com/busywork/busywork"
	"github.com/busywork/busywork/handlers"
)

// version is busywork's version, stamped at build time (the Dockerfile
// does it):
//
//	go build -ldflags "-X main.version=v1.2.3" ./cmd/busywork
//
// A build without the stamp says "dev".
var version = "dev"

func main() {
	busywork.Main(app())
}

// app is the demo as an App of the runtime.
func app() busywork.App {
	return busywork.App{
		Name:     "busywork",
		Summary:  "busywork runs busywork's demo job queue on Amazon SQS: magic-link logins and ticket orders.",
		Version:  version,
		Register: register,
		Routes:   handlers.Routes(),
		Commands: []*busywork.Command{webCommand, userCommand, batchCommand},

		DescribeGroups: describeOrders,
	}
}
