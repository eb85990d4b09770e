package dlq_test

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/busywork/busywork/consumer"
	"github.com/busywork/busywork/internal/dlq"
	"github.com/busywork/busywork/internal/testenv"
	"github.com/busywork/busywork/jobs"
	"github.com/busywork/busywork/producer"
)

// outcomes is a slog.Handler that passes records on to next and collects
// the job ids of the consumer's "job" lines by outcome.
type outcomes struct {
	slog.Handler
	mu      *sync.Mutex
	ids     map[string][]string
	changed chan struct{}
}

func (o *outcomes) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == "job" {
		var outcome, id string
		r.Attrs(func(a slog.Attr) bool {
			switch a.Key {
			case "outcome":
				outcome = a.Value.String()
			case "job_id":
				id = a.Value.String()
			}
			return true
		})
		o.mu.Lock()
		o.ids[outcome] = append(o.ids[outcome], id)
		o.mu.Unlock()
		select {
		case o.changed <- struct{}{}:
		default:
		}
	}
	return o.Handler.Handle(ctx, r)
}

func (o *outcomes) WithAttrs(as []slog.Attr) slog.Handler {
	c := *o
	c.Handler = o.Handler.WithAttrs(as)
	return &c
}

// serve runs a consumer of w's queue, whose ping handler succeeds, with
// signing key key until n jobs had outcome, then stops it and returns the
// ids of those jobs.
func (w *world) serve(key, outcome string, n int) []string {
	w.t.Helper()
	o := &outcomes{Handler: slog.NewTextHandler(w.t.Output(), nil), mu: new(sync.Mutex), ids: map[string][]string{}, changed: make(chan struct{}, 1)}
	mux := consumer.NewMux()
	consumer.Handle(mux, func(context.Context, jobs.Ping) error { return nil })
	c, err := consumer.New(testenv.SQS(w.t), mux, consumer.Config{
		Queues:       []consumer.QueueConfig{{URL: w.q.URL}},
		SigningKey:   []byte(key),
		DrainTimeout: 5 * time.Second,
		Logger:       slog.New(o),
	})
	if err != nil {
		w.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			w.t.Errorf("Run: %v", err)
		}
	}()
	timeout := time.After(30 * time.Second)
	for {
		o.mu.Lock()
		ids := slices.Clone(o.ids[outcome])
		o.mu.Unlock()
		if len(ids) >= n {
			return ids
		}
		select {
		case <-o.changed:
		case <-timeout:
			w.t.Fatalf("%d of %d jobs %s within 30s", len(ids), n, outcome)
		}
	}
}

func TestReplay_ReplayedJobsKeepTheirIDAndSignatureAndAreHandled(t *testing.T) {
	w := newWorld(t, testenv.QueueOptions{})
	p := producer.New(testenv.SQS(t), w.q.URL, producer.WithSigningKey([]byte("the new key")), producer.WithTimeout(10*time.Second))
	results, err := p.SendBatch(t.Context(), []jobs.Job{jobs.Ping{Message: "a"}, jobs.Ping{Message: "b"}, jobs.Ping{Message: "c"}})
	if err != nil {
		t.Fatal(err)
	}
	var sent []string
	for _, r := range results {
		sent = append(sent, r.JobID)
	}
	slices.Sort(sent)

	// Workers that still have the old key dead-letter them as forged.
	if got := w.serve("the old key", consumer.OutcomeDeadLettered, 3); !slices.Equal(slices.Sorted(slices.Values(got)), sent) {
		t.Fatalf("dead-lettered %v, want %v", got, sent)
	}

	// The fix: workers get the new key. Replay, and they run the jobs: the
	// signature came along, and the ids are the same.
	sum, err := w.q.Replay(ctx(t), dlq.ReplayOptions{Rate: fast})
	if err != nil || !sum.OK() || sum.Moved != 3 {
		t.Fatalf("Replay: %v, %+v", err, sum)
	}
	if got := w.serve("the new key", consumer.OutcomeSucceeded, 3); !slices.Equal(slices.Sorted(slices.Values(got)), sent) {
		t.Fatalf("handled %v, want the ids sent %v", got, sent)
	}
	w.empty(w.q.DeadLetterURL)
}
