package consumer

import (
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// MaxDrainTimeout is the longest DrainTimeout allowed: ECS's longest stop
// timeout, after which it kills the task.
const MaxDrainTimeout = 120 * time.Second

// Config configures a Consumer. The zero value of each field means its
// documented default. cmd/busywork fills it from BUSYWORK_* environment
// variables through the envconfig tags.
type Config struct {
	// Queues are the queues (lanes) to serve, each with its own pollers and
	// concurrency limit. At least one.
	Queues []QueueConfig `ignored:"true"`

	// BackoffBase is the retry delay after a job's first failed try; it
	// doubles with each receive. Default 2s.
	BackoffBase time.Duration `envconfig:"BACKOFF_BASE" default:"2s"`
	// BackoffMax caps the retry delay. Default 15m; at most 12h.
	BackoffMax time.Duration `envconfig:"BACKOFF_MAX" default:"15m"`

	// DrainTimeout is how long running jobs may go on after Run's context
	// ends; jobs still running then are cancelled and their messages
	// released at once. Default 25s; at most MaxDrainTimeout.
	DrainTimeout time.Duration `envconfig:"DRAIN_TIMEOUT" default:"25s"`
	// WaitTime is the long-poll wait of each receive, in whole seconds from
	// 1 to 20. It must be shorter than DrainTimeout: a receive in flight at
	// shutdown is let finish, so that what it receives is not stranded.
	// Default 20s, or DrainTimeout less 5s when that is shorter.
	WaitTime time.Duration `envconfig:"WAIT_TIME"`

	// HungGrace is how long a handler may ignore its cancelled context
	// before its message is given back for a retry and the handler counts
	// as hung. Default 10s.
	HungGrace time.Duration `envconfig:"HUNG_GRACE" default:"10s"`
	// UnhealthyHungShare is the share of all slots that hung handlers may
	// hold before Healthy reports an error. Default 0.5.
	UnhealthyHungShare float64 `envconfig:"UNHEALTHY_HUNG_SHARE" default:"0.5"`

	// SigningKey, when set, makes a valid signature attribute mandatory:
	// unsigned and forged messages are dead-lettered.
	SigningKey []byte `ignored:"true"`

	// Logger receives one line per job outcome. Default slog.Default().
	Logger *slog.Logger `ignored:"true"`
	// Metrics, when set, records jobs, durations and in-flight counts.
	Metrics *Metrics `ignored:"true"`
}

// QueueConfig configures one queue the consumer serves.
type QueueConfig struct {
	// URL is the queue's URL. Required.
	URL string
	// Concurrency is how many of this queue's jobs may run at once. A job
	// holds its slot until its delete is confirmed. Default 10.
	Concurrency int
	// Pollers is how many receives may be in flight at once. Default one
	// per 10 slots, rounded up.
	Pollers int
	// Lease is the visibility timeout set on receive and renewed by the
	// heartbeat while the job runs. Default: the queue's own
	// VisibilityTimeout, at least 2s.
	Lease time.Duration
	// DeadLetterURL is where permanent failures go. Default: the target of
	// the queue's redrive policy.
	DeadLetterURL string
}

// minLease keeps heartbeats well ahead of expiry.
const minLease = 2 * time.Second

// withDefaults returns c with every zero field set to its default, or an
// error naming the first field that is out of range.
func (c Config) withDefaults() (Config, error) {
	if len(c.Queues) == 0 {
		return c, errors.New("consumer: no queues to serve")
	}
	qs := make([]QueueConfig, len(c.Queues))
	for i, q := range c.Queues {
		if q.URL == "" {
			return c, fmt.Errorf("consumer: queue %d has no URL", i)
		}
		if q.Concurrency == 0 {
			q.Concurrency = 10
		}
		if q.Pollers == 0 {
			q.Pollers = (q.Concurrency + maxBatch - 1) / maxBatch
		}
		switch {
		case q.Concurrency < 0:
			return c, fmt.Errorf("consumer: queue %s: concurrency %d is negative", q.URL, q.Concurrency)
		case q.Pollers < 0 || q.Pollers > q.Concurrency:
			return c, fmt.Errorf("consumer: queue %s: pollers %d is not between 1 and concurrency (%d)", q.URL, q.Pollers, q.Concurrency)
		case q.Lease != 0 && (q.Lease < minLease || q.Lease > maxVisibility):
			return c, fmt.Errorf("consumer: queue %s: lease %s is not between %s and 12h", q.URL, q.Lease, minLease)
		}
		qs[i] = q
	}
	c.Queues = qs

	setDefault(&c.BackoffBase, 2*time.Second)
	setDefault(&c.BackoffMax, 15*time.Minute)
	setDefault(&c.DrainTimeout, 25*time.Second)
	setDefault(&c.WaitTime, min(20*time.Second, c.DrainTimeout-5*time.Second))
	setDefault(&c.HungGrace, 10*time.Second)
	if c.UnhealthyHungShare == 0 {
		c.UnhealthyHungShare = 0.5
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	switch {
	case c.BackoffBase < 0 || c.BackoffMax < c.BackoffBase || c.BackoffMax > maxVisibility:
		return c, fmt.Errorf("consumer: backoff base %s and max %s: want 0 <= base <= max <= 12h", c.BackoffBase, c.BackoffMax)
	case c.DrainTimeout < 0 || c.DrainTimeout > MaxDrainTimeout:
		return c, fmt.Errorf("consumer: drain timeout %s is not between 0 and %s", c.DrainTimeout, MaxDrainTimeout)
	case c.WaitTime < time.Second || c.WaitTime > 20*time.Second || c.WaitTime%time.Second != 0:
		return c, fmt.Errorf("consumer: wait time %s is not a whole number of seconds from 1 to 20", c.WaitTime)
	case c.WaitTime >= c.DrainTimeout:
		return c, fmt.Errorf("consumer: wait time %s must be shorter than the drain timeout %s", c.WaitTime, c.DrainTimeout)
	case c.HungGrace < 0:
		return c, fmt.Errorf("consumer: hung grace %s is negative", c.HungGrace)
	case c.UnhealthyHungShare < 0 || c.UnhealthyHungShare > 1:
		return c, fmt.Errorf("consumer: unhealthy hung share %v is not between 0 and 1", c.UnhealthyHungShare)
	}
	return c, nil
}

func setDefault(d *time.Duration, def time.Duration) {
	if *d == 0 {
		*d = def
	}
}
