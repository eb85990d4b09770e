// Package handlers holds the application's jobs: magic link, the ticket
// order with its generate ticket and dispatch tickets jobs (ping is the
// runtime's, in every binary); their types are in package demo. Each
// handler is a struct holding its dependencies, with a Handle method that
// the consumer calls with the typed job; Register wires them all onto a
// consumer.Mux:
//
//	mux := consumer.NewMux()
//	handlers.Register(mux, handlers.Deps{Logger: logger})
//
// Handlers are safe for concurrent use; a Mux serves many jobs at once.
package handlers

import (
	"log/slog"

	"github.com/busywork/busywork/consumer"
	"github.com/busywork/busywork/demo"
	"github.com/busywork/busywork/groups"
	"github.com/busywork/busywork/producer"
)

// Deps are what the handlers need from the outside: clients, stores and
// settings. cmd/busywork builds them from the environment.
type Deps struct {
	// Logger receives the handlers' log lines. nil means slog.Default().
	Logger *slog.Logger
	// Store is busywork's DynamoDB table (a *ddb.Store).
	Store Store
	// Groups fans a ticket order out and in (the runtime's
	// busywork.Env.Groups, whose middleware must wrap the handlers);
	// without it the ticket jobs are left out.
	Groups *groups.Groups
	// TicketKey signs the verification codes on tickets.
	TicketKey []byte
	// MaxEmailBytes bounds one ticket email's raw size; 0 means
	// DefaultMaxEmailBytes.
	MaxEmailBytes int
	// Mail sends email (an *sesv2.Client).
	Mail MagicLinkMailer
	// MailLimit, if set, paces the jobs that send mail (magic link,
	// dispatch tickets) at SES's sending rate, across the fleet: the
	// runtime's Env.Limiter(busywork.MailLimit). A ThrottlingException
	// from SES then slows it down instead of failing the job.
	MailLimit consumer.Limiter
	// From is the sender of busywork's emails (BUSYWORK_FROM_EMAIL).
	From string
	// BaseURL is the web app's public root (BUSYWORK_BASE_URL).
	BaseURL string
}

// Store is the part of *ddb.Store the handlers use.
type Store interface {
	MagicLinkStore
	TicketStore
}

func (d Deps) logger() *slog.Logger {
	if d.Logger != nil {
		return d.Logger
	}
	return slog.Default()
}

// Register registers the package's handlers on mux, built from deps. A
// handler whose dependencies deps lacks (magic_link needs Store and Mail,
// the ticket jobs Groups too)
// is left out, and its jobs are dead-lettered as of an unknown type. It
// panics, as consumer.Handle does, if a job type is already registered.
func Register(mux *consumer.Mux, deps Deps) {
	if deps.Store != nil && deps.Mail != nil {
		link := &MagicLink{Store: deps.Store, Mail: deps.Mail, From: deps.From, BaseURL: deps.BaseURL, Logger: deps.logger()}
		consumer.Handle(mux, link.Handle, consumer.Timeout(MagicLinkTimeout), consumer.RateLimit(deps.MailLimit))
	}
	if deps.Store != nil && deps.Mail != nil && deps.Groups != nil {
		t := &Tickets{Store: deps.Store, Groups: deps.Groups, Mail: deps.Mail, From: deps.From,
			Key: deps.TicketKey, MaxEmailBytes: deps.MaxEmailBytes, Logger: deps.logger()}
		consumer.Handle(mux, t.Order, consumer.Timeout(TicketOrderTimeout))
		consumer.Handle(mux, t.Generate, consumer.Timeout(GenerateTicketTimeout))
		consumer.Handle(mux, t.Dispatch, consumer.Timeout(DispatchTicketsTimeout), consumer.RateLimit(deps.MailLimit))
	}
}

// Routes returns the demo's routing table: login links on the critical
// lane; an order's fan-out and its tickets on the bulk lane, so that a
// 1000-ticket order delays neither; everything else (such as the order's
// one dispatch email) on the default lane.
func Routes() producer.Routes {
	return producer.Routes{
		demo.MagicLink{}.Type():      producer.LaneCritical,
		demo.TicketOrder{}.Type():    producer.LaneBulk,
		demo.GenerateTicket{}.Type(): producer.LaneBulk,
	}
}
