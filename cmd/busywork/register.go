package main

import (
	"log/slog"
	"maps"
	"slices"

	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/busywork/busywork"
	"github.com/busywork/busywork/awsclient"
	"github.com/busywork/busywork/consumer"
	"github.com/busywork/busywork/ddb"
	"github.com/busywork/busywork/handlers"
)

// register registers the demo's handlers: the worker's App.Register.
func register(mux *consumer.Mux, env *busywork.Env) error {
	cfg, err := loadConfig()
	if err != nil {
		return err
	}
	dynamo, mail := awsclient.NewDynamoDB(env.AWS), sesv2.NewFromConfig(env.AWS)
	if env.Serving {
		// A worker that may reach AWS needs the ticket key.
		err := checkTicketKey(cfg.TicketKey, env.Logger, map[string]*string{
			"SQS":      sqs.NewFromConfig(env.AWS).Options().BaseEndpoint,
			"DynamoDB": dynamo.Options().BaseEndpoint,
			"SES v2":   mail.Options().BaseEndpoint,
		})
		if err != nil {
			return err
		}
	}
	handlers.Register(mux, handlers.Deps{
		Logger:        env.Logger,
		Store:         ddb.New(dynamo, env.Table),
		Mail:          mail,
		MailLimit:     env.Limiter(busywork.MailLimit),
		From:          cfg.FromEmail,
		Groups:        env.Groups,
		BaseURL:       cfg.BaseURL,
		TicketKey:     []byte(cfg.TicketKey),
		MaxEmailBytes: cfg.MaxEmailBytes,
	})
	return nil
}

// checkTicketKey refuses to run without a ticket key (BUSYWORK_TICKET_KEY),
// with which the worker signs the codes printed on tickets: without one,
// anyone can make a code that passes for a ticket. Only a worker whose
// endpoints (by service; nil means AWS's own) are all on this machine, the
// emulators of `make dev` and the tests, may run without it, and it logs a
// warning then.
func checkTicketKey(key string, log *slog.Logger, endpoints map[string]*string) error {
	if key != "" {
		return nil
	}
	for _, service := range slices.Sorted(maps.Keys(endpoints)) {
		if e := endpoints[service]; e == nil || !awsclient.IsLocalEndpoint(*e) {
			where := "AWS"
			if e != nil {
				where = *e
			}
			return busywork.ConfigErrorf("BUSYWORK_TICKET_KEY is not set: without it anyone can forge the codes printed on tickets. "+
				"Set it to a long random secret (e.g. the output of `openssl rand -hex 32`), the same for every worker; "+
				"only a worker whose SQS, DynamoDB and SES v2 endpoints are all local emulators may run without it (%s: %s)",
				service, where)
		}
	}
	log.Warn("BUSYWORK_TICKET_KEY is not set: the codes on tickets can be forged; allowed only because every AWS endpoint is local")
	return nil
}
