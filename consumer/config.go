package consumer

import (
	"fmt"
	"log/slog"
	"strings"
	"time"
)

// ShutdownMargin is how long a shutdown may take past DrainTimeout: up to
// cancelGrace for cancelled handlers to return, then up to finalCalls for
// the last deletes and visibility changes. Run returns within
// DrainTimeout + ShutdownMargin of its context ending.
const ShutdownMargin = cancelGrace + finalCalls

const (
	// cancelGrace is how long handlers cancelled at the end of the drain
	// get to return before their messages are left to their leases.
	cancelGrace = 5 * time.Second
	// finalCalls bounds the settling calls still in flight after that.
	finalCalls = 10 * time.Second
)

// DefaultDrainTimeout is the DrainTimeout of a Config that sets none.
const DefaultDrainTimeout = 25 * time.Second

// Config configures a Consumer. The zero value of each field means its
// documented default. It knows nothing of where values come from: busywork's
// runtime fills it from BUSYWORK_* environment variables, and checks there
// the bounds of the deployment (ECS's stop timeout).
type Config struct {
	// Queues are the queues (lanes) to serve, each with its own pollers and
	// concurrency limit. At least one.
	Queues []QueueConfig

	// BackoffBase is the retry delay after a job's first failed try; it
	// doubles with each receive. Default 2s.
	BackoffBase time.Duration
	// BackoffMax caps the retry delay. Default 15m; at most 12h.
	BackoffMax time.Duration

	// DrainTimeout is how long running jobs may go on after Run's context
	// ends; jobs still running then are cancelled, and their messages
	// released once their handlers return. Default DefaultDrainTimeout
	// (25s); at most an hour. Run returns within DrainTimeout +
	// ShutdownMargin.
	DrainTimeout time.Duration
	// WaitTime is the long-poll wait of each receive, in whole seconds from
	// 1 to 20. A shutdown lets the receives in flight finish, so that
	// what they bring is not stranded, but only until DrainTimeout ends:
	// then it cancels the long polls still waiting, and a job that
	// reaches one of them in the rest of its wait stays invisible for its
	// first lease (SQS answers a poll whose client has gone). Keep
	// DrainTimeout above WaitTime, as the defaults are. Default 20s.
	WaitTime time.Duration

	// HoldLimit is the longest wait a worker holds a job in its slot:
	// for its due time, its turn under a rate limit, or a Snooze. A
	// longer wait frees the slot and is sent on as a fresh copy of the
	// message (see Snooze for the cost). Default DefaultHoldLimit (5s);
	// at most MaxHop.
	HoldLimit time.Duration
	// MaxHop is the longest delay of one fresh copy; a longer wait (a
	// delayed send, a long snooze) is made of hops of MaxHop, each a
	// receive, a SendMessage and a DeleteMessage. Default and most
	// MaxHop, SQS's 15 minutes; tests shorten it.
	MaxHop time.Duration

	// HungGrace is how long a handler may ignore its cancelled context
	// before its message is given back for a retry and the handler counts
	// as hung. Default 10s.
	HungGrace time.Duration
	// UnhealthyHungShare is the share of all slots that hung handlers may
	// hold before Healthy reports an error. Default 0.5.
	UnhealthyHungShare float64

	// SigningKey, when set, makes a valid signature attribute mandatory:
	// unsigned and forged messages are dead-lettered.
	SigningKey []byte

	// Logger receives one line per job outcome. Default slog.Default().
	Logger *slog.Logger
	// Metrics, when set, receives the consumer's measurements (package
	// metrics records them in Prometheus).
	Metrics Metrics
}

// QueueConfig configures one queue (lane) the consumer serves.
type QueueConfig struct {
	// URL is the queue's URL. Required.
	URL string
	// Name is the lane's name in logs, metrics and Delivery.Lane, such as
	// "critical". Default: the queue's name, the last part of URL.
	Name string
	// Concurrency is how many of this queue's handlers may run at once. A
	// handler's slot frees when it returns. Default 10.
	Concurrency int
	// MaxUnconfirmed is the most deletes of finished jobs that SQS may
	// not have confirmed yet. Below it the lane allows what its pace
	// needs: twice its rate times its round trip (see MaxReceives), at
	// least the concurrency and at least a batch of 10. A handler that
	// returns while that many are unconfirmed waits in its slot for a
	// confirmation, so a worker killed outright runs at most
	// Concurrency + min(MaxUnconfirmed, max(Concurrency, 10, 2 × rate ×
	// round trip)) finished jobs again (and the jobs it was running). Default 1000: 25,000 jobs a second at
	// round trips of 20 ms.
	MaxUnconfirmed int
	// MaxReceives is the most receives in flight at once. Below it the
	// lane keeps as many in flight as its pace needs, measured as it
	// runs: twice the rate at which its handlers finish jobs times the
	// round trip of its SQS calls, in batches of 10, and at least two
	// (long polls on an idle queue). The messages it holds ahead of its
	// handlers follow the same measure (at least one batch), so a worker
	// takes what it can run in about a round trip and leaves the rest of
	// the backlog to the others. Default 100.
	MaxReceives int
	// Lease is the visibility timeout the heartbeat keeps renewing while a
	// job runs, and until SQS confirms what became of it. A receive asks
	// for a shorter first lease (at most FirstLease), so messages of a
	// receive whose response is lost on the way come back soon. Default:
	// the queue's own VisibilityTimeout, at least MinLease. At most 12h.
	Lease time.Duration
	// DeadLetterURL is where permanent failures go. Default: the target of
	// the queue's redrive policy.
	DeadLetterURL string
}

// Lease bounds.
const (
	// MinLease is the shortest lease: heartbeats stay well ahead of it.
	MinLease = 2 * time.Second
	// FirstLease is the longest visibility timeout a receive asks for.
	FirstLease = 5 * time.Second
)

// ConfigError is a configuration value the consumer cannot work with.
// Field names the Config or QueueConfig field, so that a command can name
// the setting (an environment variable, a flag) it came from.
type ConfigError struct {
	// Field is the field's name, such as "WaitTime" or "Queues[0].Lease".
	Field string
	// Problem says what is wrong with it.
	Problem string
}

func (e *ConfigError) Error() string { return "consumer: " + e.Field + ": " + e.Problem }

func configErrorf(field, format string, args ...any) *ConfigError {
	return &ConfigError{Field: field, Problem: fmt.Sprintf(format, args...)}
}

// withDefaults returns c with every zero field set to its default, or a
// *ConfigError naming the first field that is out of range.
func (c Config) withDefaults() (Config, error) {
	if len(c.Queues) == 0 {
		return c, configErrorf("Queues", "no queues to serve")
	}
	qs := make([]QueueConfig, len(c.Queues))
	names := map[string]bool{}
	for i, q := range c.Queues {
		prefix := fmt.Sprintf("Queues[%d].", i)
		q, err := q.withDefaults(prefix)
		if err != nil {
			return c, err
		}
		if names[q.Name] {
			return c, configErrorf(prefix+"Name", "%q names two queues", q.Name)
		}
		names[q.Name] = true
		qs[i] = q
	}
	c.Queues = qs

	setDefault(&c.BackoffBase, 2*time.Second)
	setDefault(&c.BackoffMax, 15*time.Minute)
	setDefault(&c.DrainTimeout, DefaultDrainTimeout)
	setDefault(&c.WaitTime, 20*time.Second)
	setDefault(&c.HungGrace, 10*time.Second)
	setDefault(&c.HoldLimit, DefaultHoldLimit)
	setDefault(&c.MaxHop, MaxHop)
	if c.UnhealthyHungShare == 0 {
		c.UnhealthyHungShare = 0.5
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Metrics == nil {
		c.Metrics = noMetrics{}
	}
	switch {
	case c.BackoffBase < 0:
		return c, configErrorf("BackoffBase", "%s is negative", c.BackoffBase)
	case c.BackoffMax < c.BackoffBase || c.BackoffMax > maxVisibility:
		return c, configErrorf("BackoffMax", "%s is not between the backoff base (%s) and 12h", c.BackoffMax, c.BackoffBase)
	case c.DrainTimeout < 0 || c.DrainTimeout > time.Hour:
		return c, configErrorf("DrainTimeout", "%s is not between 0 and 1h", c.DrainTimeout)
	case c.WaitTime < time.Second || c.WaitTime > 20*time.Second || c.WaitTime%time.Second != 0:
		return c, configErrorf("WaitTime", "%s is not a whole number of seconds from 1 to 20", c.WaitTime)
	case c.HungGrace < 0 || c.HungGrace > time.Hour:
		return c, configErrorf("HungGrace", "%s is not between 0 and 1h", c.HungGrace)
	case c.MaxHop < time.Second || c.MaxHop > MaxHop:
		return c, configErrorf("MaxHop", "%s is not between 1s and %s", c.MaxHop, MaxHop)
	case c.HoldLimit < 0 || c.HoldLimit > c.MaxHop:
		return c, configErrorf("HoldLimit", "%s is not between 0 and MaxHop (%s)", c.HoldLimit, c.MaxHop)
	case !(c.UnhealthyHungShare >= 0 && c.UnhealthyHungShare <= 1): // NaN too
		return c, configErrorf("UnhealthyHungShare", "%v is not between 0 and 1", c.UnhealthyHungShare)
	}
	return c, nil
}

// withDefaults fills q's zero fields; prefix names q in errors.
func (q QueueConfig) withDefaults(prefix string) (QueueConfig, error) {
	if q.URL == "" {
		return q, configErrorf(prefix+"URL", "empty")
	}
	if q.Name == "" {
		q.Name = q.URL[strings.LastIndexByte(q.URL, '/')+1:]
	}
	if q.Concurrency == 0 {
		q.Concurrency = 10
	}
	if q.MaxUnconfirmed == 0 {
		q.MaxUnconfirmed = 1000
	}
	if q.MaxReceives == 0 {
		q.MaxReceives = 100
	}
	switch {
	case q.Concurrency < 0:
		return q, configErrorf(prefix+"Concurrency", "%d is negative", q.Concurrency)
	case q.MaxUnconfirmed < 1:
		return q, configErrorf(prefix+"MaxUnconfirmed", "%d is not at least 1", q.MaxUnconfirmed)
	case q.MaxReceives < minReceives || q.MaxReceives > 1000:
		return q, configErrorf(prefix+"MaxReceives", "%d is not between %d and 1000", q.MaxReceives, minReceives)
	case q.Lease != 0 && (q.Lease < MinLease || q.Lease > maxVisibility):
		return q, configErrorf(prefix+"Lease", "%s is not between %s and 12h", q.Lease, MinLease)
	}
	return q, nil
}

// checkRoutes refuses handler timeouts that cannot fit in SQS's 12 hours
// together with the hung grace: such a handler's message would show again
// while it runs.
func (c Config) checkRoutes(m *Mux) error {
	for _, typ := range m.Types() {
		if r := m.routes[typ]; r.timeout+c.HungGrace > maxVisibility-FirstLease {
			return configErrorf("HungGrace", "job type %q: timeout %s plus hung grace %s does not fit in SQS's 12h (less the %s first lease)",
				typ, r.timeout, c.HungGrace, FirstLease)
		}
	}
	return nil
}

func setDefault(d *time.Duration, def time.Duration) {
	if *d == 0 {
		*d = def
	}
}
