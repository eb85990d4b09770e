// Package demo holds the job types of busywork's demo: the magic-link login
// and the ticket order that fans out into one job per ticket and a dispatch
// of the finished tickets. The demo is the binary cmd/busywork; its job
// handlers are in package handlers and its web app in internal/webapp.
//
// Each type implements jobs.Job, busywork's wire contract:
//
//	body, err := jobs.Marshal(demo.MagicLink{Email: "ada@example.com"})
//	// {"type":"magic_link","email":"ada@example.com"}
//
// A service of its own declares its job types the same way, in its own
// package; it needs nothing from this one.
package demo
