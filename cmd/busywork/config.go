package main

import (
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"time"

	"github.com/kelseyhightower/envconfig"

	"github.com/busywork/busywork/consumer"
	"github.com/busywork/busywork/producer"
)

// envPrefix is the prefix of busywork's environment variables.
const envPrefix = "BUSYWORK"

// Config is busywork's configuration, read from BUSYWORK_* environment
// variables. The consumer's own settings (BUSYWORK_DRAIN_TIMEOUT and the
// others) are in consumer.Config, read with the same prefix.
type Config struct {
	// LaneConfig is the default lane's: BUSYWORK_QUEUE,
	// BUSYWORK_CONCURRENCY and the others.
	LaneConfig
	// Critical is the critical lane's: BUSYWORK_CRITICAL_QUEUE,
	// BUSYWORK_CRITICAL_CONCURRENCY and the others.
	Critical LaneConfig `envconfig:"CRITICAL"`
	// Bulk is the bulk lane's: BUSYWORK_BULK_QUEUE and the others.
	Bulk LaneConfig `envconfig:"BULK"`
	// Routes overrides the routing table of job types to lanes, as in
	// "ping=bulk,dispatch_tickets=critical" (see producer.DefaultRoutes).
	Routes string `envconfig:"ROUTES"`
	// Table is the DynamoDB table's name.
	Table string `envconfig:"TABLE" default:"busywork"`
	// FromEmail is the sender of busywork's emails.
	FromEmail string `envconfig:"FROM_EMAIL" default:"no-reply@example.com"`
	// BaseURL is the web app's public root, used in the links it mails.
	BaseURL string `envconfig:"BASE_URL" default:"http://127.0.0.1:8080"`
	// AdminAddr is where the worker serves /healthz and /metrics.
	AdminAddr string `envconfig:"ADMIN_ADDR" default:"127.0.0.1:9090"`
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
	// MaxReceiveCount is the redrive policy's maxReceiveCount that
	// bootstrap sets.
	MaxReceiveCount int `envconfig:"MAX_RECEIVE_COUNT" default:"5"`
	// SigningKey, when set, signs sent jobs and makes the worker reject
	// unsigned or forged ones.
	SigningKey string `envconfig:"SIGNING_KEY"`
	// TicketKey signs the verification codes printed on tickets; set it
	// in production (codes made without it can be forged).
	TicketKey string `envconfig:"TICKET_KEY"`
	// MaxEmailBytes bounds one ticket email's raw size.
	MaxEmailBytes int `envconfig:"MAX_EMAIL_BYTES" default:"10485760"`
	// LogLevel is the lowest level logged: debug, info, warn or error.
	LogLevel slog.Level `envconfig:"LOG_LEVEL" default:"info"`
}

// configError is a bad environment value; the command exits 2.
type configError struct{ msg string }

func (e *configError) Error() string { return e.msg }

// loadConfig reads Config from the environment and checks its values.
func loadConfig() (Config, error) {
	var c Config
	if err := process(&c); err != nil {
		return c, err
	}
	switch {
	case c.MaxEmailBytes < 1<<20 || c.MaxEmailBytes > 40<<20:
		return c, &configError{fmt.Sprintf("%s_MAX_EMAIL_BYTES=%d: want 1 MiB to 40 MiB (SES's limit)", envPrefix, c.MaxEmailBytes)}
	case c.MaxReceiveCount < 1 || c.MaxReceiveCount > 1000:
		return c, &configError{fmt.Sprintf("%s_MAX_RECEIVE_COUNT=%d: want 1 to 1000", envPrefix, c.MaxReceiveCount)}
	case c.LoginBurst < 1:
		return c, &configError{fmt.Sprintf("%s_LOGIN_BURST=%d: want at least 1", envPrefix, c.LoginBurst)}
	case c.LoginInterval <= 0:
		return c, &configError{fmt.Sprintf("%s_LOGIN_INTERVAL=%s: want a positive duration", envPrefix, c.LoginInterval)}
	case c.OrderBurst < 1:
		return c, &configError{fmt.Sprintf("%s_ORDER_BURST=%d: want at least 1", envPrefix, c.OrderBurst)}
	case c.OrderInterval <= 0:
		return c, &configError{fmt.Sprintf("%s_ORDER_INTERVAL=%s: want a positive duration", envPrefix, c.OrderInterval)}
	}
	for _, l := range c.lanes() {
		if err := l.check(); err != nil {
			return c, err
		}
	}
	if _, err := c.routes(); err != nil {
		return c, err
	}
	return c, nil
}

// loadConsumerConfig reads the consumer's settings from the environment.
func loadConsumerConfig() (consumer.Config, error) {
	var c consumer.Config
	return c, process(&c)
}

// queueSettings maps the QueueConfig fields the worker sets to the
// variables they come from, less the lane's prefix.
var queueSettings = map[string]string{
	"Concurrency":    "CONCURRENCY",
	"MaxReceives":    "MAX_RECEIVES",
	"MaxUnconfirmed": "MAX_UNCONFIRMED",
	"Lease":          "LEASE",
}

// consumerConfigError turns the consumer's refusal of a setting into a
// configError naming the environment variable it came from, as in
// "BUSYWORK_WAIT_TIME: 30s is not a whole number of seconds from 1 to 20".
// served are the lanes of the consumer's Queues, in order.
func consumerConfigError(err error, served []lane) error {
	var ce *consumer.ConfigError
	if !errors.As(err, &ce) {
		return err
	}
	name := ce.Field
	var i int
	if _, perr := fmt.Sscanf(name, "Queues[%d].", &i); perr == nil && i < len(served) {
		_, field, _ := strings.Cut(name, "].")
		if v, ok := queueSettings[field]; ok {
			name = served[i].prefix() + v
		}
	} else if f, ok := reflect.TypeFor[consumer.Config]().FieldByName(name); ok {
		if tag := f.Tag.Get("envconfig"); tag != "" {
			name = envPrefix + "_" + tag
		}
	}
	return &configError{name + ": " + ce.Problem}
}

// process fills spec from the environment, turning a bad value into a
// configError that names the variable.
func process(spec any) error {
	err := envconfig.Process(envPrefix, spec)
	var pe *envconfig.ParseError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &pe):
		return &configError{fmt.Sprintf("%s=%q: %s", pe.KeyName, pe.Value, parseProblem(pe))}
	default:
		return &configError{"environment: " + err.Error()}
	}
}

func parseProblem(pe *envconfig.ParseError) string {
	switch pe.TypeName {
	case "int", "int64":
		return "not a whole number"
	case "float64":
		return "not a number"
	case "time.Duration":
		return `not a duration (e.g. "25s", "2m")`
	case "slog.Level":
		return "not a log level (debug, info, warn, error)"
	}
	msg := pe.Err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		msg = msg[i+2:]
	}
	return msg
}

// producerOptions returns opts and, when a signing key is set, the option
// that signs every job.
func (c Config) producerOptions(opts ...func(*producer.Options)) []func(*producer.Options) {
	if c.SigningKey != "" {
		opts = append(opts, producer.WithSigningKey([]byte(c.SigningKey)))
	}
	return opts
}
