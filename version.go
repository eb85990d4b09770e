package busywork

import (
	"context"
	"fmt"
)

var versionCommand = &Command{
	Name:    "version",
	Summary: "print the binary's version",
	Run:     runVersion,
	Help: `Prints the version stamped into the binary at build time (App.Version;
busywork's Dockerfile stamps -ldflags "-X main.version=..." from its build
argument VERSION), or "dev" for a build without one.
`,
}

func runVersion(_ context.Context, inv *Invocation) error {
	if err := inv.NoArgs(); err != nil {
		return err
	}
	_, err := fmt.Fprintln(inv.Stdout, inv.app.version())
	return err
}

// version returns App.Version, or "dev" for a build without one.
func (app *App) version() string {
	if app.Version == "" {
		return "dev"
	}
	return app.Version
}
