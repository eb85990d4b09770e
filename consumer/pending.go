package consumer

import (
	"context"
	"sync"
)

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
