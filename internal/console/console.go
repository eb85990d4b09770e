package console

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/busywork/busywork/ddb"
	"github.com/busywork/busywork/groups"
	"github.com/busywork/busywork/internal/dlq"
	"github.com/busywork/busywork/internal/serve"
)

// Defaults and bounds of Config.
const (
	// DefaultInterval is the default of Config.Interval.
	DefaultInterval = 5 * time.Second
	// History is how long the console keeps the lanes' samples: the span
	// of its chart.
	History = 15 * time.Minute
)

// QueueAttributesAPI is the part of *sqs.Client the console's sampler
// calls.
type QueueAttributesAPI interface {
	GetQueueAttributes(ctx context.Context, in *sqs.GetQueueAttributesInput, optFns ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
}

// GroupsAPI reads and repairs fan-out groups: a *groups.Groups.
type GroupsAPI interface {
	Status(ctx context.Context, id string) (ddb.Batch, error)
	Repair(ctx context.Context, id string) (groups.Repaired, error)
}

// BatchScanner finds the groups that want a look: a *ddb.Scanner.
type BatchScanner interface {
	ScanBatches(ctx context.Context, opts ddb.ScanOptions) (ddb.BatchPage, error)
}

// GroupNote is what the console shows of a group beside its progress.
type GroupNote struct {
	// Kind says what the group is, as in "ticket order"; "" for a plain
	// group.
	Kind string
	// Title describes this one, as in "Gophercon, 40 tickets".
	Title string
	// Action says what finishes the group, when it needs an operator.
	Action string
}

// Lane is one lane as the console shows it.
type Lane struct {
	// Name is the lane's name, as in "critical".
	Name string
	// Queue is its queue and dead-letter queue.
	Queue *dlq.Queue
}

// Config configures a console. The zero value of each optional field
// selects the default documented on it.
type Config struct {
	// Name is the binary's name, shown in the page's title and in the
	// commands it suggests. Default "busywork".
	Name string
	// Lanes are the lanes shown, in that order. Required.
	Lanes []Lane
	// SQS reads the queues' counts. Required.
	SQS QueueAttributesAPI
	// Groups reads and repairs fan-out groups; nil leaves groups out.
	Groups GroupsAPI
	// Batches finds the groups that want a look; nil leaves that search
	// out (a group is still found by id).
	Batches BatchScanner
	// Describe says what a group is and what finishes it; nil shows
	// groups with no kind, title or action.
	Describe func(ctx context.Context, b ddb.Batch) (GroupNote, error)
	// Metrics are the URLs of the workers' Prometheus /metrics, whose
	// busywork_jobs_total gives the fleet's rate; none leaves it out.
	Metrics []string
	// Interval is how often the console samples the queues and the
	// workers' metrics, and how often the page refreshes. Default
	// DefaultInterval.
	Interval time.Duration
	// Password, when set, is asked of every request (HTTP basic
	// authentication; any user name).
	Password string
	// Remote serves requests for any Host. Unset, the console answers
	// only requests whose Host is a loopback name (localhost, 127.0.0.1,
	// [::1]), which a site that rebinds its own name to 127.0.0.1 cannot
	// send.
	Remote bool
	// Logger receives a line per failed sample and per task. nil means
	// slog.Default().
	Logger *slog.Logger
	// HTTPClient fetches the workers' metrics. nil means a client with a
	// timeout of a second less than Interval.
	HTTPClient *http.Client
	// Now returns the current time. nil means time.Now.
	Now func() time.Time
}

// Server is a running console's state: the samples, the dead letters
// counted, the tasks. It is safe for concurrent use.
type Server struct {
	cfg     Config
	log     *slog.Logger
	secret  []byte // keys the pages' tokens; drawn per process
	lanes   []*lane
	byName  map[string]*lane
	fleet   *fleet
	tasks   *tasks
	handler http.Handler
}

// New returns a console for cfg. It starts no goroutine and makes no
// network call: Serve (or Run) does.
func New(cfg Config) (*Server, error) {
	if len(cfg.Lanes) == 0 || cfg.SQS == nil {
		return nil, errors.New("console: Config.Lanes and Config.SQS are required")
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.Name == "" {
		cfg.Name = "busywork"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: max(cfg.Interval-time.Second, time.Second)}
	}
	s := &Server{cfg: cfg, log: cfg.Logger, secret: make([]byte, 32), byName: map[string]*lane{}}
	if _, err := rand.Read(s.secret); err != nil {
		return nil, fmt.Errorf("console: draw the token key: %w", err)
	}
	for _, l := range cfg.Lanes {
		if l.Queue == nil || s.byName[l.Name] != nil {
			return nil, fmt.Errorf("console: lane %q has no queue or is given twice", l.Name)
		}
		ln := newLane(l, int(History/cfg.Interval)+1)
		s.lanes = append(s.lanes, ln)
		s.byName[l.Name] = ln
	}
	fl, err := newFleet(cfg.Metrics, cfg.HTTPClient)
	if err != nil {
		return nil, err
	}
	s.fleet = fl
	s.tasks = newTasks()
	s.handler = s.routes()
	return s, nil
}

// ServeHTTP serves the console's page, its files and its API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// Run samples the queues and the workers' metrics every Config.Interval
// until ctx ends, then cancels the tasks still running (each finishes
// the batch it holds and releases the rest) and waits for them.
func (s *Server) Run(ctx context.Context) error {
	defer s.tasks.stop()
	t := time.NewTicker(s.cfg.Interval)
	defer t.Stop()
	for {
		s.sample(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Serve serves the console on ln and runs it (Run) until ctx ends, then
// lets the requests in flight finish (up to 5 s) and stops the tasks.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      5 * time.Minute, // a count of a large dead-letter queue takes a while
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	return serve.While(ctx, srv, ln, "console server", s.Run)
}
