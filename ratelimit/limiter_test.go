package ratelimit_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/busywork/busywork/awsclient"
	"github.com/busywork/busywork/ddb"
	"github.com/busywork/busywork/internal/testenv"
	"github.com/busywork/busywork/ratelimit"
)

func TestParseRate(t *testing.T) {
	for in, want := range map[string]ratelimit.Rate{
		"10/s":  {N: 10, Per: time.Second},
		"600/m": {N: 600, Per: time.Minute},
		"0.5/h": {N: 0.5, Per: time.Hour},
		" 3/s ": {N: 3, Per: time.Second},
	} {
		got, err := ratelimit.ParseRate(in)
		if err != nil || got != want {
			t.Errorf("ParseRate(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "10", "10/d", "x/s", "-1/s", "0/s", "NaN/s", "Inf/s", "1000000/s", "0.5/m/h"} {
		if r, err := ratelimit.ParseRate(bad); err == nil {
			t.Errorf("ParseRate(%q) = %v, want an error", bad, r)
		}
	}
	if got := (ratelimit.Rate{N: 600, Per: time.Minute}).Interval(); got != 100*time.Millisecond {
		t.Errorf("600/m interval %s", got)
	}
}

func TestParseLimits_NamesWhatIsWrong(t *testing.T) {
	got, err := ratelimit.ParseLimits("ping=10/s, mail=600/m")
	if err != nil || len(got) != 2 || got["ping"] != ratelimit.PerSecond(10) || got["mail"] != (ratelimit.Rate{N: 600, Per: time.Minute}) {
		t.Errorf("ParseLimits = %v, %v", got, err)
	}
	if got, err := ratelimit.ParseLimits(" "); err != nil || len(got) != 0 {
		t.Errorf("ParseLimits(blank) = %v, %v", got, err)
	}
	for bad, names := range map[string]string{
		"ping":                "ping",
		"=10/s":               "=10/s",
		"ping=10/x":           "ping",
		"ping=10/s,ping=20/s": "ping",
		"ping=ten/s":          "ten",
	} {
		_, err := ratelimit.ParseLimits(bad)
		if err == nil || !strings.Contains(err.Error(), names) {
			t.Errorf("ParseLimits(%q) = %v, want an error naming %q", bad, err, names)
		}
	}
}

// counting counts the MoveLimit calls made through it to a real store.
type counting struct {
	ratelimit.Store
	mu    sync.Mutex
	calls int
}

func (c *counting) MoveLimit(ctx context.Context, name string, prev, next time.Time) (bool, time.Time, error) {
	c.mu.Lock()
	c.calls++
	c.mu.Unlock()
	return c.Store.MoveLimit(ctx, name, prev, next)
}

// newStores returns n stores on one fresh DynamoDB Local table, as n
// worker processes have.
func newStores(t *testing.T, n int) []*counting {
	testenv.Require(t)
	client := testenv.DynamoDB(t)
	table := testenv.NewTable(t, client)
	stores := make([]*counting, n)
	for i := range stores {
		stores[i] = &counting{Store: ddb.New(awsclient.NewDynamoDB(testenv.AWSConfig(t)), table)}
	}
	return stores
}

// Two workers at 50 starts a second, 100 jobs at once: every job gets its
// own start, and no two starts of the fleet are closer than 20 ms.
func TestLimiter_TwoWorkersShareOneRate(t *testing.T) {
	stores := newStores(t, 2)
	rate := ratelimit.PerSecond(50)
	workers := []*ratelimit.Limiter{ratelimit.New(stores[0], "shared", rate), ratelimit.New(stores[1], "shared", rate)}
	var (
		mu     sync.Mutex
		starts []time.Time
		wg     sync.WaitGroup
	)
	for i := range 100 {
		wg.Go(func() {
			at, ok, err := workers[i%2].Reserve(t.Context(), 10*time.Second)
			if err != nil || !ok {
				t.Errorf("Reserve: %v, %v", ok, err)
				return
			}
			mu.Lock()
			starts = append(starts, at)
			mu.Unlock()
		})
	}
	wg.Wait()
	slices.SortFunc(starts, time.Time.Compare)
	for i := 1; i < len(starts); i++ {
		if gap := starts[i].Sub(starts[i-1]); gap < rate.Interval() {
			t.Errorf("starts %d and %d are %s apart, less than the %s interval", i-1, i, gap, rate.Interval())
		}
	}
	calls := stores[0].calls + stores[1].calls
	t.Logf("100 reservations in %d writes", calls)
	if calls >= 100 {
		t.Errorf("%d writes for 100 reservations: concurrent reservations of a worker should share a write", calls)
	}
}

// A start past maxWait is not taken: the next caller gets it.
func TestLimiter_ReservesOnlyWithinMaxWait(t *testing.T) {
	stores := newStores(t, 1)
	l := ratelimit.New(stores[0], "slow", ratelimit.PerSecond(1))
	first, ok, err := l.Reserve(t.Context(), 0)
	if err != nil || !ok {
		t.Fatalf("first Reserve: %v, %v", ok, err)
	}
	later, ok, err := l.Reserve(t.Context(), 500*time.Millisecond)
	if err != nil || ok {
		t.Fatalf("Reserve past its wait: ok %v, %v; want not ok", ok, err)
	}
	if want := first.Add(time.Second); !later.Equal(want) {
		t.Errorf("next free start %s, want %s", later, want)
	}
	next, ok, err := l.Reserve(t.Context(), 2*time.Second)
	if err != nil || !ok || !next.Equal(first.Add(time.Second)) {
		t.Errorf("Reserve = %s, %v, %v; want the start the refused one did not take, %s", next, ok, err, first.Add(time.Second))
	}
}

// A throttle reported by one worker holds back the other.
func TestLimiter_ThrottledSlowsTheWholeFleet(t *testing.T) {
	stores := newStores(t, 2)
	a := ratelimit.New(stores[0], "ses", ratelimit.PerSecond(10))
	b := ratelimit.New(stores[1], "ses", ratelimit.PerSecond(10))
	before := time.Now()
	if err := a.Throttled(t.Context()); err != nil {
		t.Fatal(err)
	}
	at, ok, err := b.Reserve(t.Context(), 100*time.Millisecond)
	if err != nil || ok || at.Before(before.Add(time.Second)) {
		t.Errorf("Reserve after a throttle = %s, %v, %v; want no start within a second", at, ok, err)
	}
}

// A limit of the zero rate limits nothing and makes no call.
func TestLimiter_ZeroRateMakesNoCall(t *testing.T) {
	store := &counting{}
	l := ratelimit.New(store, "free", ratelimit.Rate{})
	for range 10 {
		if _, ok, err := l.Reserve(context.Background(), 0); !ok || err != nil {
			t.Fatalf("Reserve = %v, %v", ok, err)
		}
	}
	if err := l.Throttled(context.Background()); err != nil || store.calls != 0 {
		t.Errorf("Throttled = %v; %d store calls, want 0", err, store.calls)
	}
}
