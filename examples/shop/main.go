// Command shop is a team's own service built on busywork, as a user would
// write it: one job type of its own, welcome_email, sent from a web
// handler with producer.Send and run by the worker of busywork's runtime.
//
//	shop bootstrap                                  # queues, DLQs, the table
//	shop worker                                     # runs the jobs until SIGTERM
//	shop web                                        # POST /signup enqueues a welcome_email
//	shop send welcome_email '{"user_id":"u-1"}'     # or from the shell
//	shop dlq stats                                  # and the rest of the runtime's commands
//
// It uses busywork's public packages only.
package main

import (
	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"github.com/busywork/busywork"
	"github.com/busywork/busywork/consumer"
)

// version is stamped at build time: -ldflags "-X main.version=v1.2.3".
var version = "dev"

func main() {
	busywork.Main(app())
}

func app() busywork.App {
	return busywork.App{
		Name:     "shop",
		Summary:  "shop sends its new users a welcome email.",
		Version:  version,
		Register: register,
		Commands: []*busywork.Command{webCommand},
	}
}

// settings are the shop's own, read from the environment as the runtime
// reads its own (busywork.LoadEnv: BUSYWORK_ and the tag).
type settings struct {
	// From is the sender of the welcome email: BUSYWORK_FROM_EMAIL.
	From string `envconfig:"FROM_EMAIL" default:"no-reply@example.com"`
	// Domain is where users' mailboxes are, BUSYWORK_SHOP_DOMAIN: user
	// u-1 gets u-1@Domain.
	Domain string `envconfig:"SHOP_DOMAIN" default:"example.com"`
}

func register(mux *consumer.Mux, env *busywork.Env) error {
	var s settings
	if err := busywork.LoadEnv(&s); err != nil {
		return err
	}
	w := &welcomer{mail: sesv2.NewFromConfig(env.AWS), from: s.From, domain: s.Domain}
	consumer.Handle(mux, w.send, consumer.Timeout(welcomeTimeout))
	return nil
}
