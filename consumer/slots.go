package consumer

import (
	"context"
	"sync"
)

// slots is a counting semaphore that hands out several slots at once: a
// poller takes room for a whole batch before it receives one.
type slots struct {
	mu    sync.Mutex
	free  int
	freed chan struct{} // closed and replaced whenever slots are released
}

func newSlots(n int) *slots {
	return &slots{free: n, freed: make(chan struct{})}
}

// acquire waits until n slots are free and takes them. It returns ctx's
// error when ctx ends first.
func (s *slots) acquire(ctx context.Context, n int) error {
	for {
		s.mu.Lock()
		if s.free >= n {
			s.free -= n
			s.mu.Unlock()
			return nil
		}
		freed := s.freed
		s.mu.Unlock()
		select {
		case <-freed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// release returns n slots.
func (s *slots) release(n int) {
	if n == 0 {
		return
	}
	s.mu.Lock()
	s.free += n
	close(s.freed)
	s.freed = make(chan struct{})
	s.mu.Unlock()
}

// pending counts outstanding work and lets a caller wait, with a deadline,
// until none is left: a sync.WaitGroup whose Wait takes a context.
type pending struct {
	mu   sync.Mutex
	n    int
	zero chan struct{} // closed while n == 0
}

func newPending() *pending {
	p := &pending{zero: make(chan struct{})}
	close(p.zero)
	return p
}

func (p *pending) add() {
	p.mu.Lock()
	if p.n == 0 {
		p.zero = make(chan struct{})
	}
	p.n++
	p.mu.Unlock()
}

func (p *pending) done() {
	p.mu.Lock()
	p.n--
	if p.n == 0 {
		close(p.zero)
	}
	p.mu.Unlock()
}

// count returns how much is outstanding.
func (p *pending) count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n
}

// wait returns nil once nothing is outstanding, or ctx's error.
func (p *pending) wait(ctx context.Context) error {
	p.mu.Lock()
	zero := p.zero
	p.mu.Unlock()
	select {
	case <-zero:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
