package producer_test

// Unique keys against the emulators: the keys in DynamoDB Local (a real
// *ddb.Store on a table of its own), the jobs on fauxqs.

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go/middleware"

	"github.com/busywork/busywork/ddb"
	"github.com/busywork/busywork/internal/testenv"
	"github.com/busywork/busywork/jobs"
	"github.com/busywork/busywork/producer"
)

var _ producer.UniqueStore = (*ddb.Store)(nil)

// uniqueWorld is a queue on fauxqs, a table on DynamoDB Local and a
// store on it whose clock the test moves.
type uniqueWorld struct {
	sqs   *sqs.Client
	queue string
	store *countingStore
	clock *testenv.Clock
}

func newUniqueWorld(t *testing.T, sqsOpts ...func(*sqs.Options)) *uniqueWorld {
	t.Helper()
	client := testenv.SQS(t, sqsOpts...)
	queue, _ := testenv.NewQueue(t, client, testenv.QueueOptions{NoDLQ: true})
	ddbClient := testenv.DynamoDB(t)
	clock := testenv.NewClock(time.Now())
	store := ddb.New(ddbClient, testenv.NewTable(t, ddbClient), func(o *ddb.Options) { o.Now = clock.Now })
	return &uniqueWorld{sqs: client, queue: queue, store: &countingStore{UniqueStore: store}, clock: clock}
}

func (w *uniqueWorld) producer(opts ...func(*producer.Options)) *producer.Producer {
	return producer.New(w.sqs, w.queue, append([]func(*producer.Options){producer.WithUniqueStore(w.store)}, opts...)...)
}

// jobIDs receives every message of the queue, n of them, and fails the
// test if there are more; it returns their job ids.
func (w *uniqueWorld) jobIDs(t *testing.T, n int) []string {
	t.Helper()
	var ids []string
	if n > 0 {
		for _, m := range testenv.ReceiveAll(t.Context(), t, w.sqs, w.queue, n, 10*time.Second) {
			ids = append(ids, testenv.Attr(m, jobs.AttrJobID))
		}
	}
	out, err := w.sqs.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(w.queue), WaitTimeSeconds: 1, MaxNumberOfMessages: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Messages) > 0 {
		t.Fatalf("the queue holds %d jobs more than the %d expected", len(out.Messages), n)
	}
	return ids
}

// countingStore is the real store, counting its calls; afterClaim, if
// set, runs after each ClaimUnique.
type countingStore struct {
	producer.UniqueStore
	claims, releases atomic.Int64
	afterClaim       func()
}

func (s *countingStore) ClaimUnique(ctx context.Context, key, jobID string, window time.Duration) (string, time.Time, error) {
	s.claims.Add(1)
	heldBy, until, err := s.UniqueStore.ClaimUnique(ctx, key, jobID, window)
	if s.afterClaim != nil {
		s.afterClaim()
	}
	return heldBy, until, err
}

func (s *countingStore) ReleaseUnique(ctx context.Context, key, jobID string) error {
	s.releases.Add(1)
	return s.UniqueStore.ReleaseUnique(ctx, key, jobID)
}

func TestUnique_TwoSendsOfOneKeyInTheWindowEnqueueOneJobAndAfterItTwo(t *testing.T) {
	w := newUniqueWorld(t)
	p := w.producer()
	order := producer.Unique("order:ada:gala:2", 30*time.Second)

	first, err := p.Send(t.Context(), welcome{UserID: "ada"}, order)
	if err != nil {
		t.Fatal(err)
	}
	w.clock.Add(29 * time.Second)
	second, err := p.Send(t.Context(), welcome{UserID: "ada"}, order)
	var dup *producer.DuplicateError
	if !errors.Is(err, producer.ErrDuplicate) || !errors.As(err, &dup) {
		t.Fatalf("second Send in the window = %q, %v; want a DuplicateError", second, err)
	}
	if second != first || dup.JobID != first || dup.JobType != "welcome_email" || dup.Until.Before(w.clock.Now()) {
		t.Errorf("second Send = %q, %+v; want the first job's id %q, its type and the window's end", second, dup, first)
	}
	if strings.Contains(err.Error(), "ada") {
		t.Errorf("the error %q shows the key", err)
	}
	if ids := w.jobIDs(t, 1); ids[0] != first {
		t.Errorf("the queue holds job %s, want the first Send's %s", ids[0], first)
	}

	// The key's item outlives its window (DynamoDB Local never deletes;
	// DynamoDB's TTL is late): only its stored end frees the key.
	w.clock.Add(2 * time.Second)
	third, err := p.Send(t.Context(), welcome{UserID: "ada"}, order)
	if err != nil || third == first {
		t.Fatalf("Send after the window = %q, %v; want a new job", third, err)
	}
	if ids := w.jobIDs(t, 1); ids[0] != third { // the first is in flight
		t.Errorf("the queue holds job %s, want the Send after the window's %s", ids[0], third)
	}
}

func TestUnique_KeysArePerJobTypeAndOtherKeysAreSent(t *testing.T) {
	w := newUniqueWorld(t)
	p := w.producer()
	var ids []string
	for _, send := range []struct {
		job jobs.Job
		key string
	}{
		{welcome{UserID: "ada"}, "k1"},
		{ticket{OrderID: "o-1", Number: 1, Total: 1}, "k1"}, // same key, another type
		{welcome{UserID: "ada"}, "k2"},                      // same type, another key
	} {
		id, err := p.Send(t.Context(), send.job, producer.Unique(send.key, time.Minute))
		if err != nil {
			t.Fatalf("Send %s with key %s: %v", send.job.Type(), send.key, err)
		}
		ids = append(ids, id)
	}
	if got := w.jobIDs(t, 3); !sameSet(got, ids) {
		t.Errorf("the queue holds %v, want %v", got, ids)
	}
}

func TestUnique_ConcurrentSendsOfOneKeyEnqueueOneJob(t *testing.T) {
	for _, batching := range []bool{false, true} {
		t.Run(map[bool]string{false: "alone", true: "micro-batched"}[batching], func(t *testing.T) {
			w := newUniqueWorld(t)
			var opts []func(*producer.Options)
			if batching {
				opts = append(opts, producer.WithBatching(producer.SuggestedBatchWindow))
			}
			p := w.producer(opts...)
			const n = 10
			ids, errs := make([]string, n), make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					ids[i], errs[i] = p.Send(t.Context(), welcome{UserID: "ada"}, producer.Unique("click", time.Minute))
				})
			}
			wg.Wait()
			sent := ""
			for i, err := range errs {
				if err == nil {
					if sent != "" {
						t.Fatalf("Sends %s and %s both sent", sent, ids[i])
					}
					sent = ids[i]
				} else if !errors.Is(err, producer.ErrDuplicate) {
					t.Errorf("Send %d: %v, want nil or a duplicate", i, err)
				}
			}
			for i, id := range ids {
				if id != sent {
					t.Errorf("Send %d returned job id %q, want the one sent, %q", i, id, sent)
				}
			}
			if got := w.jobIDs(t, 1); got[0] != sent {
				t.Errorf("the queue holds %s, want %s", got[0], sent)
			}
		})
	}
}

// failFirstSends returns an SDK option under which the first n
// SendMessage calls fail before they reach SQS.
func failFirstSends(n int64) func(*sqs.Options) {
	var calls atomic.Int64
	return func(o *sqs.Options) {
		o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
			return s.Initialize.Add(middleware.InitializeMiddlewareFunc("failFirstSends",
				func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
					if _, ok := in.Parameters.(*sqs.SendMessageInput); ok && calls.Add(1) <= n {
						return middleware.InitializeOutput{}, middleware.Metadata{}, errors.New("injected: SQS is unreachable")
					}
					return next.HandleInitialize(ctx, in)
				}), middleware.Before)
		})
	}
}

func TestUnique_AFailedSendReleasesTheKeySoARetryIsEnqueued(t *testing.T) {
	w := newUniqueWorld(t, failFirstSends(1))
	p := w.producer()
	order := producer.Unique("order:ada:gala:2", time.Hour)

	failed, err := p.Send(t.Context(), welcome{UserID: "ada"}, order)
	if err == nil || errors.Is(err, producer.ErrDuplicate) || !strings.Contains(err.Error(), "injected") {
		t.Fatalf("Send through a failing SQS = %q, %v; want its error", failed, err)
	}
	if w.store.releases.Load() != 1 {
		t.Errorf("%d releases after the failed send, want 1", w.store.releases.Load())
	}
	retry, err := p.Send(t.Context(), welcome{UserID: "ada"}, order)
	if err != nil {
		t.Fatalf("retry within the window: %v, want it sent (the failed send's key released)", err)
	}
	if ids := w.jobIDs(t, 1); ids[0] != retry {
		t.Errorf("the queue holds %s, want the retry's %s", ids[0], retry)
	}
	if again, err := p.Send(t.Context(), welcome{UserID: "ada"}, order); again != retry || !errors.Is(err, producer.ErrDuplicate) {
		t.Errorf("a third Send = %q, %v; want a duplicate of the retry %s", again, err, retry)
	}
}

func TestUnique_ACallerThatGivesUpAfterTheKeyIsRecordedStillEnqueuesItsJob(t *testing.T) {
	// A browser's second click aborts the first request: its duplicate
	// is told of the first job, which must then be sent.
	w := newUniqueWorld(t)
	p := w.producer()
	ctx, cancel := context.WithCancel(t.Context())
	w.store.afterClaim = cancel

	id, err := p.Send(ctx, welcome{UserID: "ada"}, producer.Unique("click", time.Minute))
	if err != nil {
		t.Fatalf("Send cancelled after its key was recorded = %q, %v; want it sent", id, err)
	}
	if ids := w.jobIDs(t, 1); ids[0] != id {
		t.Errorf("the queue holds %s, want %s", ids[0], id)
	}
}

func TestUnique_BadKeyWindowOrStoreIsRefusedNamingItAndNothingIsEnqueued(t *testing.T) {
	w := newUniqueWorld(t)
	p := w.producer()
	for _, tc := range []struct {
		name   string
		p      *producer.Producer
		key    string
		window time.Duration
		want   string
	}{
		{"empty key", p, "", time.Minute, "the key is empty"},
		{"oversized key", p, strings.Repeat("k", producer.MaxUniqueKeyBytes+1), time.Minute, "the key of 513 bytes is longer than 512"},
		{"zero window", p, "k", 0, "the window 0s is shorter than 1s"},
		{"negative window", p, "k", -time.Minute, "the window -1m0s is shorter than 1s"},
		{"window under a second", p, "k", 500 * time.Millisecond, "the window 500ms is shorter than 1s"},
		{"absurd window", p, "k", 100 * 365 * 24 * time.Hour, "the window 876000h0m0s is longer than 168h0m0s"},
		{"no store", producer.New(w.sqs, w.queue), "k", time.Minute, "no unique store (WithUniqueStore)"},
	} {
		id, err := tc.p.Send(t.Context(), welcome{UserID: "ada"}, producer.Unique(tc.key, tc.window))
		if id != "" || !errors.Is(err, producer.ErrInvalidUnique) || !strings.Contains(err.Error(), tc.want) ||
			!strings.Contains(err.Error(), "welcome_email") {
			t.Errorf("%s: Send = %q, %v; want ErrInvalidUnique naming the job type and saying %q", tc.name, id, err, tc.want)
		}
	}
	results, err := p.SendBatch(t.Context(), []jobs.Job{welcome{UserID: "ada"}, welcome{UserID: "grace"}}, producer.Unique("k", time.Minute))
	for i, r := range results {
		if r.JobID != "" || !errors.Is(r.Err, producer.ErrInvalidUnique) || !strings.Contains(r.Err.Error(), "send each unique job with Send") {
			t.Errorf("SendBatch with Unique: result %d = %+v, want ErrInvalidUnique saying to use Send", i, r)
		}
	}
	if !errors.Is(err, producer.ErrInvalidUnique) {
		t.Errorf("SendBatch with Unique = %v, want ErrInvalidUnique", err)
	}
	if n := w.store.claims.Load(); n != 0 {
		t.Errorf("%d keys claimed, want none", n)
	}
	w.jobIDs(t, 0)
}

// sameSet reports whether a and b hold the same strings, in any order.
func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
