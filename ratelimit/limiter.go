package ratelimit

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Store holds the next free start of each limit, shared by every worker
// of the fleet: *ddb.Store, one item per limit.
type Store interface {
	// MoveLimit sets limit name's next free start to next if it is still
	// prev (zero: the limit has no start recorded yet), and reports
	// whether it did; if not, current is what the store holds.
	MoveLimit(ctx context.Context, name string, prev, next time.Time) (moved bool, current time.Time, err error)
}

// maxConflicts bounds the tries of one reservation against other workers
// moving the same limit at the same moment.
const maxConflicts = 20

// Limiter spreads the starts of the jobs it limits evenly at its rate,
// across every worker sharing its store: it implements consumer.Limiter.
// Its state is one DynamoDB item, the limit's next free start (the
// "theoretical arrival time" of the generic cell rate algorithm): taking
// starts moves it on by one interval per start, in one conditional write
// that fails, and is tried again from the value it returns, when another
// worker moved it first. Concurrent reservations in one process share a
// write, so a worker makes one write per wave of jobs that reach their
// slots together, and at most one job in a wave starts per interval.
//
// A limit allows no burst: after an idle spell the next start is at once,
// and the ones after it an interval apart.
//
// A Limiter of the zero Rate limits nothing and makes no call: a type
// without a limit pays nothing for the feature.
type Limiter struct {
	name  string
	store Store
	now   func() time.Time

	// turn is held by the goroutine writing a wave's reservations.
	turn chan struct{}

	mu      sync.Mutex
	rate    Rate
	next    time.Time // the next free start, as last seen in the store
	waiting []*waiter
}

type waiter struct {
	maxWait time.Duration
	done    chan reservation
}

type reservation struct {
	at  time.Time
	ok  bool
	err error
}

// New returns the limiter of limit name at rate r, kept in store. Every
// worker that uses the same name and store shares the limit; they should
// use the same rate (a worker moves the shared start on by its own rate's
// interval). The zero Rate limits nothing. New panics if r is neither
// zero nor a rate ParseRate would take.
func New(store Store, name string, r Rate) *Limiter {
	l := &Limiter{name: name, store: store, now: time.Now, turn: make(chan struct{}, 1)}
	l.SetRate(r)
	return l
}

// Name returns the limit's name.
func (l *Limiter) Name() string { return l.name }

// Rate returns the limit's rate; the zero Rate is no limit.
func (l *Limiter) Rate() Rate {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.rate
}

// SetRate changes the limit's rate, as New's r; for a rate learnt after
// the Limiter was handed out (SES's sending rate, asked when the worker
// starts).
func (l *Limiter) SetRate(r Rate) {
	if !r.Zero() {
		if err := r.check(); err != nil {
			panic(fmt.Sprintf("ratelimit: limit %q: %v", l.name, err))
		}
	}
	l.mu.Lock()
	l.rate = r
	l.mu.Unlock()
}

// Reserve takes the next free start if it is within maxWait of now and
// returns it, with ok true. Otherwise it takes nothing and returns when a
// start is likely free, with ok false.
//
// The reservations that wait in one process while a write is in flight
// are the next wave: whichever of them gets the turn next writes them all.
func (l *Limiter) Reserve(ctx context.Context, maxWait time.Duration) (time.Time, bool, error) {
	w := &waiter{maxWait: maxWait, done: make(chan reservation, 1)}
	l.mu.Lock()
	if l.rate.Zero() {
		l.mu.Unlock()
		return l.now(), true, nil
	}
	l.waiting = append(l.waiting, w)
	l.mu.Unlock()
	select {
	case r := <-w.done:
		return r.at, r.ok, r.err
	case l.turn <- struct{}{}:
		defer func() { <-l.turn }()
	case <-ctx.Done():
		return time.Time{}, false, ctx.Err()
	}
	select {
	case r := <-w.done: // a wave written before this turn held it
		return r.at, r.ok, r.err
	default:
	}
	l.mu.Lock()
	wave := l.waiting
	l.waiting = nil
	l.mu.Unlock()
	l.serve(ctx, wave)
	r := <-w.done
	return r.at, r.ok, r.err
}

// serve reserves the starts of one wave, in order: each waiter gets the
// next free start if it is within its maxWait, or the time one is likely
// free.
func (l *Limiter) serve(ctx context.Context, wave []*waiter) {
	var err error
	for range maxConflicts {
		l.mu.Lock()
		prev, rate := l.next, l.rate
		l.mu.Unlock()
		if rate.Zero() { // no longer limited
			for _, w := range wave {
				w.done <- reservation{at: l.now(), ok: true}
			}
			return
		}
		iv := rate.Interval()
		now := l.now()
		slot := later(prev, now)
		taken := 0
		for _, w := range wave {
			if slot.Add(time.Duration(taken)*iv).Sub(now) > w.maxWait {
				break
			}
			taken++
		}
		if taken == 0 {
			for i, w := range wave {
				w.done <- reservation{at: slot.Add(time.Duration(i) * iv)}
			}
			return
		}
		var moved bool
		var current time.Time
		moved, current, err = l.store.MoveLimit(ctx, l.name, prev, slot.Add(time.Duration(taken)*iv))
		if err != nil {
			break
		}
		l.seen(current)
		if !moved {
			continue
		}
		for i, w := range wave {
			w.done <- reservation{at: slot.Add(time.Duration(i) * iv), ok: i < taken}
		}
		return
	}
	if err == nil {
		err = fmt.Errorf("ratelimit %s: %d workers moved the limit at once; giving up this time", l.name, maxConflicts)
	}
	for _, w := range wave {
		w.done <- reservation{err: err}
	}
}

// Throttled moves the limit's next free start on by a second or two
// intervals, whichever is longer, for every worker sharing it: the
// service the limit protects refused a call for going too fast.
func (l *Limiter) Throttled(ctx context.Context) error {
	for range maxConflicts {
		l.mu.Lock()
		prev, rate := l.next, l.rate
		l.mu.Unlock()
		if rate.Zero() {
			return nil
		}
		pause := max(time.Second, 2*rate.Interval())
		moved, current, err := l.store.MoveLimit(ctx, l.name, prev, later(prev, l.now()).Add(pause))
		if err != nil {
			return err
		}
		l.seen(current)
		if moved {
			return nil
		}
	}
	return fmt.Errorf("ratelimit %s: %d workers moved the limit at once; not slowed down", l.name, maxConflicts)
}

// seen records the next free start the store holds now.
func (l *Limiter) seen(next time.Time) {
	l.mu.Lock()
	l.next = next
	l.mu.Unlock()
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
