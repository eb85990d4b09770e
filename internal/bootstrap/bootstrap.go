// Package bootstrap creates, idempotently, the AWS resources busywork runs
// on: for each lane an SQS queue and its dead-letter queue linked by a
// redrive policy, the DynamoDB table with its time-to-live attribute, and
// the SES sender identity where the endpoint supports it. It is the logic
// of `busywork bootstrap`.
//
// Running it again is safe: what exists is left alone, and a queue whose
// attributes differ from the wanted ones (say, a changed maxReceiveCount) is
// converged with SetQueueAttributes. The Report says, resource by resource,
// what was created, updated, already there or skipped:
//
//	report, err := bootstrap.Run(ctx, bootstrap.Clients{
//		SQS:      sqs.NewFromConfig(cfg),
//		DynamoDB: dynamodb.NewFromConfig(cfg),
//		SES:      sesv2.NewFromConfig(cfg),
//	}, bootstrap.Config{})
//	fmt.Print(report)
package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Defaults of Config and Lane.
const (
	// DefaultQueue is the name of the default lane's queue.
	DefaultQueue = "busywork-jobs"
	// DefaultTable is the DynamoDB table's name.
	DefaultTable = "busywork"
	// DefaultSender is the SES sender identity.
	DefaultSender = "no-reply@example.com"
	// DefaultMaxReceiveCount is how many receives a message gets before SQS
	// moves it to the dead-letter queue.
	DefaultMaxReceiveCount = 5
	// DefaultVisibilityTimeout is a queue's visibility timeout.
	DefaultVisibilityTimeout = 30 * time.Second
	// DefaultTableTimeout bounds the wait for the table to become ACTIVE.
	DefaultTableTimeout = 2 * time.Minute
	// QueueRetention is how long a lane's queue keeps messages: 4 days,
	// SQS's default.
	QueueRetention = 4 * 24 * time.Hour
	// DeadLetterRetention is how long a dead-letter queue keeps messages:
	// 14 days, SQS's longest. It must outlast QueueRetention: SQS counts
	// the age of a message moved to the DLQ from when it entered the
	// queue, so a DLQ that keeps messages no longer than the queue lets
	// failures expire soon after they arrive.
	DeadLetterRetention = 14 * 24 * time.Hour
	// DeadLetterSuffix is appended to a lane's queue name to name its DLQ.
	DeadLetterSuffix = "-dlq"
	// TTLAttribute is the table's time-to-live attribute.
	TTLAttribute = "ttl"
)

// Lane is one queue to create, with its dead-letter queue. The zero value
// of a numeric field means its default.
type Lane struct {
	// Name is the queue's name; its DLQ is Name plus DeadLetterSuffix.
	Name string
	// MaxReceiveCount is the redrive policy's maxReceiveCount (1 to 1000).
	// Default DefaultMaxReceiveCount.
	MaxReceiveCount int
	// VisibilityTimeout is the queue's visibility timeout, in whole seconds
	// up to 12 hours. Default DefaultVisibilityTimeout.
	VisibilityTimeout time.Duration
}

// DeadLetterName returns the name of the lane's dead-letter queue.
func (l Lane) DeadLetterName() string { return l.Name + DeadLetterSuffix }

// Config says what to create. The zero value creates busywork's defaults.
type Config struct {
	// Lanes are the queues to create. Default: one lane, DefaultQueue.
	Lanes []Lane
	// Table is the DynamoDB table's name. Default DefaultTable.
	Table string
	// Sender is the SES email identity to create. Default DefaultSender.
	Sender string
	// TableTimeout bounds the wait for the table to become ACTIVE. Default
	// DefaultTableTimeout.
	TableTimeout time.Duration
}

// withDefaults returns c with its defaults filled in, or an error naming a
// value out of range.
func (c Config) withDefaults() (Config, error) {
	if len(c.Lanes) == 0 {
		c.Lanes = []Lane{{Name: DefaultQueue}}
	}
	lanes := make([]Lane, len(c.Lanes))
	for i, l := range c.Lanes {
		if l.MaxReceiveCount == 0 {
			l.MaxReceiveCount = DefaultMaxReceiveCount
		}
		if l.VisibilityTimeout == 0 {
			l.VisibilityTimeout = DefaultVisibilityTimeout
		}
		switch {
		case l.Name == "":
			return c, fmt.Errorf("bootstrap: lane %d has no name", i)
		case l.MaxReceiveCount < 1 || l.MaxReceiveCount > 1000:
			return c, fmt.Errorf("bootstrap: queue %s: maxReceiveCount %d is not between 1 and 1000", l.Name, l.MaxReceiveCount)
		case l.VisibilityTimeout < 0 || l.VisibilityTimeout > 12*time.Hour || l.VisibilityTimeout%time.Second != 0:
			return c, fmt.Errorf("bootstrap: queue %s: visibility timeout %s is not a whole number of seconds up to 12h", l.Name, l.VisibilityTimeout)
		}
		lanes[i] = l
	}
	c.Lanes = lanes
	if c.Table == "" {
		c.Table = DefaultTable
	}
	if c.Sender == "" {
		c.Sender = DefaultSender
	}
	if c.TableTimeout <= 0 {
		c.TableTimeout = DefaultTableTimeout
	}
	return c, nil
}

// Clients are the AWS clients Run calls; *sqs.Client, *dynamodb.Client and
// *sesv2.Client satisfy them. All three are required.
type Clients struct {
	// SQS creates and converges the queues.
	SQS SQSAPI
	// DynamoDB creates the table and turns on its time to live.
	DynamoDB DynamoDBAPI
	// SES creates the sender identity.
	SES SESAPI
}

// Status is what Run did about one resource.
type Status string

// The statuses of a Step.
const (
	// Created means the resource did not exist and was created.
	Created Status = "created"
	// Updated means the resource existed and was brought to the wanted
	// settings; Step.Detail lists the changes.
	Updated Status = "updated"
	// Exists means the resource was already there as wanted.
	Exists Status = "already there"
	// Skipped means the step was not done; Step.Detail says why.
	Skipped Status = "skipped"
)

// Step is what Run did about one resource.
type Step struct {
	// Resource names the resource, e.g. "queue busywork-jobs".
	Resource string
	// Status is what was done.
	Status Status
	// Detail says more, e.g. what an update changed or why a step was
	// skipped; it may be empty.
	Detail string
}

// String returns the step as one line, e.g.
// "queue busywork-jobs: updated: maxReceiveCount 3 -> 5".
func (s Step) String() string {
	if s.Detail == "" {
		return fmt.Sprintf("%s: %s", s.Resource, s.Status)
	}
	return fmt.Sprintf("%s: %s: %s", s.Resource, s.Status, s.Detail)
}

// Report lists the steps of one Run, in order.
type Report []Step

// String returns one line per step.
func (r Report) String() string {
	var b strings.Builder
	for _, s := range r {
		b.WriteString(s.String())
		b.WriteByte('\n')
	}
	return b.String()
}

// Changed reports whether any step created or updated a resource.
func (r Report) Changed() bool {
	for _, s := range r {
		if s.Status == Created || s.Status == Updated {
			return true
		}
	}
	return false
}

// Run creates what cfg names, in order: for each lane its DLQ then its
// queue, the table and its time to live, and the sender identity. It stops
// at the first error and returns the steps done so far with it.
func Run(ctx context.Context, c Clients, cfg Config) (Report, error) {
	if c.SQS == nil || c.DynamoDB == nil || c.SES == nil {
		return nil, errors.New("bootstrap: Run needs SQS, DynamoDB and SES clients")
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	var r Report
	for _, l := range cfg.Lanes {
		steps, err := ensureLane(ctx, c.SQS, l)
		r = append(r, steps...)
		if err != nil {
			return r, err
		}
	}
	steps, err := ensureTable(ctx, c.DynamoDB, cfg.Table, cfg.TableTimeout)
	r = append(r, steps...)
	if err != nil {
		return r, err
	}
	step, err := ensureSender(ctx, c.SES, cfg.Sender)
	if err != nil {
		return r, err
	}
	return append(r, step), nil
}
