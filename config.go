package busywork

import (
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/kelseyhightower/envconfig"

	"github.com/busywork/busywork/awsclient"
	"github.com/busywork/busywork/consumer"
	"github.com/busywork/busywork/ddb"
	"github.com/busywork/busywork/producer"
	"github.com/busywork/busywork/ratelimit"
)

// envPrefix is the prefix of busywork's environment variables.
const envPrefix = "BUSYWORK"

// config is the runtime's configuration, read from BUSYWORK_* environment
// variables. The worker's consumer settings are in workerConfig.
type config struct {
	// LaneConfig is the default lane's: BUSYWORK_QUEUE,
	// BUSYWORK_CONCURRENCY and the others.
	LaneConfig
	// Critical is the critical lane's: BUSYWORK_CRITICAL_QUEUE,
	// BUSYWORK_CRITICAL_CONCURRENCY and the others.
	Critical LaneConfig `envconfig:"CRITICAL"`
	// Bulk is the bulk lane's: BUSYWORK_BULK_QUEUE and the others.
	Bulk LaneConfig `envconfig:"BULK"`
	// Routes overrides the App's routing table of job types to lanes, as
	// in "ping=bulk,welcome_email=critical".
	Routes string `envconfig:"ROUTES"`
	// Table is the DynamoDB table's name.
	Table string `envconfig:"TABLE" default:"busywork"`
	// FromEmail is the SES sender identity bootstrap creates.
	FromEmail string `envconfig:"FROM_EMAIL" default:"no-reply@example.com"`
	// AdminAddr is where the worker serves /healthz and /metrics.
	AdminAddr string `envconfig:"ADMIN_ADDR" default:"127.0.0.1:9090"`
	// MaxReceiveCount is the redrive policy's maxReceiveCount that
	// bootstrap sets.
	MaxReceiveCount int `envconfig:"MAX_RECEIVE_COUNT" default:"5"`
	// SigningKey, when set, signs sent jobs and makes the worker reject
	// unsigned or forged ones.
	SigningKey string `envconfig:"SIGNING_KEY"`
	// LogLevel is the lowest level logged: debug, info, warn or error.
	LogLevel slog.Level `envconfig:"LOG_LEVEL" default:"info"`
	// RateLimits are the fleet-wide rate limits, by job type or by the
	// name of a limit handlers share (Env.Limiter), as in
	// "ping=10/s,mail=600/m".
	RateLimits string `envconfig:"RATE_LIMITS"`
	// MaxHop is the first hop of a delayed job the runtime's producers
	// send (producer.Options.MaxHop): BUSYWORK_MAX_HOP, which the worker
	// reads for its own hops too (workerConfig). 0 means 15 minutes.
	MaxHop time.Duration `envconfig:"MAX_HOP"`

	// limits is RateLimits, parsed.
	limits map[string]ratelimit.Rate
}

// loadConfig reads config from the environment and checks its values.
func loadConfig() (config, error) {
	var c config
	if err := LoadEnv(&c); err != nil {
		return c, err
	}
	if c.MaxReceiveCount < 1 || c.MaxReceiveCount > 1000 {
		return c, ConfigErrorf("%s_MAX_RECEIVE_COUNT=%d: want 1 to 1000", envPrefix, c.MaxReceiveCount)
	}
	for _, l := range c.lanes() {
		if err := l.check(); err != nil {
			return c, err
		}
	}
	limits, err := ratelimit.ParseLimits(c.RateLimits)
	if err != nil {
		return c, ConfigErrorf("%s_RATE_LIMITS: %v", envPrefix, err)
	}
	c.limits = limits
	return c, nil
}

// ECSStopTimeout is the longest stop timeout ECS allows: it kills a task
// that has not exited that long after SIGTERM.
const ECSStopTimeout = 120 * time.Second

// MaxDrainTimeout is the longest BUSYWORK_DRAIN_TIMEOUT the worker takes:
// a shutdown with it still ends within ECSStopTimeout.
const MaxDrainTimeout = ECSStopTimeout - consumer.ShutdownMargin

// workerConfig is the consumer's settings the worker reads from the
// environment; its fields are consumer.Config's of the same names, and 0
// means the consumer's default.
type workerConfig struct {
	BackoffBase        time.Duration `envconfig:"BACKOFF_BASE"`
	BackoffMax         time.Duration `envconfig:"BACKOFF_MAX"`
	DrainTimeout       time.Duration `envconfig:"DRAIN_TIMEOUT"`
	WaitTime           time.Duration `envconfig:"WAIT_TIME"`
	HungGrace          time.Duration `envconfig:"HUNG_GRACE"`
	UnhealthyHungShare float64       `envconfig:"UNHEALTHY_HUNG_SHARE"`
	HoldLimit          time.Duration `envconfig:"HOLD_LIMIT"`
	MaxHop             time.Duration `envconfig:"MAX_HOP"`
}

// loadWorkerConfig reads the consumer's settings from the environment and
// checks what the deployment bounds: the drain must end within ECS's stop
// timeout.
func loadWorkerConfig() (consumer.Config, error) {
	var w workerConfig
	if err := LoadEnv(&w); err != nil {
		return consumer.Config{}, err
	}
	if w.DrainTimeout > MaxDrainTimeout {
		return consumer.Config{}, ConfigErrorf("%s_DRAIN_TIMEOUT: %s is past %s (ECS's %s stop timeout less the %s shutdown margin)",
			envPrefix, w.DrainTimeout, MaxDrainTimeout, ECSStopTimeout, consumer.ShutdownMargin)
	}
	return consumer.Config{
		BackoffBase: w.BackoffBase, BackoffMax: w.BackoffMax, DrainTimeout: w.DrainTimeout,
		WaitTime: w.WaitTime, HungGrace: w.HungGrace, UnhealthyHungShare: w.UnhealthyHungShare,
		HoldLimit: w.HoldLimit, MaxHop: w.MaxHop,
	}, nil
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
	} else if f, ok := reflect.TypeFor[workerConfig]().FieldByName(name); ok {
		if tag := f.Tag.Get("envconfig"); tag != "" {
			name = envPrefix + "_" + tag
		}
	}
	return ConfigErrorf("%s: %s", name, ce.Problem)
}

// LoadEnv fills spec, a pointer to a struct with envconfig tags, from
// BUSYWORK_* environment variables (github.com/kelseyhightower/envconfig
// with the prefix BUSYWORK), as the runtime reads its own: a bad value
// is an error from ConfigErrorf that names the variable, so the command
// exits 2. An App reads its own settings with it.
func LoadEnv(spec any) error {
	err := envconfig.Process(envPrefix, spec)
	var pe *envconfig.ParseError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &pe):
		return ConfigErrorf("%s=%q: %s", pe.KeyName, pe.Value, parseProblem(pe))
	default:
		return ConfigErrorf("environment: %v", err)
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
	case "bool":
		return "not true or false"
	}
	msg := pe.Err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		msg = msg[i+2:]
	}
	return msg
}

// producerOptions returns the options of the runtime's producers: the
// first hop of a delayed job (BUSYWORK_MAX_HOP) and the runtime's table
// as the store of delayed jobs, so that every delayed job can be
// cancelled; then opts, which may replace those; when a signing key is
// set, the option that signs every job; and when traces are on, the one
// that traces sends.
func (c config) producerOptions(awsCfg aws.Config, opts ...func(*producer.Options)) []func(*producer.Options) {
	all := []func(*producer.Options){
		producer.WithMaxHop(c.MaxHop),
		producer.WithDelayStore(ddb.New(awsclient.NewDynamoDB(awsCfg), c.Table)),
	}
	all = append(all, opts...)
	if c.SigningKey != "" {
		all = append(all, producer.WithSigningKey([]byte(c.SigningKey)))
	}
	return traceSends(all)
}
