package main

import (
	"time"

	"github.com/busywork/busywork"
)

// config is the demo's own configuration, read from BUSYWORK_* environment
// variables beside the runtime's (the lanes, the table, the admin listener
// and the others).
type config struct {
	// FromEmail is the sender of the demo's emails.
	FromEmail string `envconfig:"FROM_EMAIL" default:"no-reply@example.com"`
	// BaseURL is the web app's public root, used in the links it mails.
	BaseURL string `envconfig:"BASE_URL" default:"http://127.0.0.1:8080"`
	// WebAddr is where the demo web app listens.
	WebAddr string `envconfig:"WEB_ADDR" default:"127.0.0.1:8080"`
	// LoginBurst and LoginInterval are the web app's login throttle: per
	// client, a burst of POST /auth/magic-link, then one per interval.
	LoginBurst    int           `envconfig:"LOGIN_BURST" default:"5"`
	LoginInterval time.Duration `envconfig:"LOGIN_INTERVAL" default:"10s"`
	// OrderBurst and OrderInterval are the web app's order throttle: per
	// signed-in user, a burst of POST /orders, then one per interval.
	OrderBurst    int           `envconfig:"ORDER_BURST" default:"3"`
	OrderInterval time.Duration `envconfig:"ORDER_INTERVAL" default:"1m"`
	// TrustForwardedFor makes the throttle take the client's address from
	// X-Forwarded-For (set it only behind a proxy that always sets it).
	TrustForwardedFor bool `envconfig:"TRUST_FORWARDED_FOR"`
	// TicketKey signs the verification codes printed on tickets; the
	// worker refuses to start without it unless every endpoint is local.
	TicketKey string `envconfig:"TICKET_KEY"`
	// MaxEmailBytes bounds one ticket email's raw size.
	MaxEmailBytes int `envconfig:"MAX_EMAIL_BYTES" default:"10485760"`
}

// loadConfig reads config from the environment and checks its values.
func loadConfig() (config, error) {
	var c config
	if err := busywork.LoadEnv(&c); err != nil {
		return c, err
	}
	switch {
	case c.MaxEmailBytes < 1<<20 || c.MaxEmailBytes > 40<<20:
		return c, busywork.ConfigErrorf("BUSYWORK_MAX_EMAIL_BYTES=%d: want 1 MiB to 40 MiB (SES's limit)", c.MaxEmailBytes)
	case c.LoginBurst < 1:
		return c, busywork.ConfigErrorf("BUSYWORK_LOGIN_BURST=%d: want at least 1", c.LoginBurst)
	case c.LoginInterval <= 0:
		return c, busywork.ConfigErrorf("BUSYWORK_LOGIN_INTERVAL=%s: want a positive duration", c.LoginInterval)
	case c.OrderBurst < 1:
		return c, busywork.ConfigErrorf("BUSYWORK_ORDER_BURST=%d: want at least 1", c.OrderBurst)
	case c.OrderInterval <= 0:
		return c, busywork.ConfigErrorf("BUSYWORK_ORDER_INTERVAL=%s: want a positive duration", c.OrderInterval)
	}
	return c, nil
}
