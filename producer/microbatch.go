package producer

import (
	"context"
	"slices"
	"sync"
	"time"
)

// Micro-batching without a background goroutine: the first Send that finds
// no open batch opens one and leads it. The leader waits for the window to
// pass (or for the batch to fill), takes the batch, makes one
// SendMessageBatch call and hands every entry its own verdict through the
// entry's result channel. The others (followers) wait for their verdict.
//
// A follower whose ctx ends before the batch is taken withdraws its entry.
// A leader whose ctx ends before then withdraws too and hands the lead to
// the oldest remaining entry, which picks up the same window. Once taken,
// a batch is sent whatever happens to the callers' contexts.

// batcher holds the batch currently open for joining. Its zero value is
// ready to use.
type batcher struct {
	// after returns a channel that receives once a batch window of d has
	// passed; nil means time.After. Tests set it to end windows when they
	// choose rather than when the scheduler lets a timer fire.
	after func(d time.Duration) <-chan time.Time

	mu   sync.Mutex
	open *pendingBatch // nil when no batch takes entries
}

// pendingBatch is one batch being gathered. Its fields are guarded by
// batcher.mu until taken is set; from then on only the leader reads
// entries.
type pendingBatch struct {
	opened  time.Time
	entries []*entry
	bytes   int
	leader  *entry
	full    chan struct{} // closed when the batch stops taking entries
	closed  bool          // full is closed
	taken   bool          // the leader took the entries to send them
}

// entry is one Send waiting in a batch.
type entry struct {
	msg    *message
	lead   chan struct{} // receives once if this entry becomes the leader
	result chan error    // receives this entry's verdict; buffered
}

// sendBatched sends m through a micro-batch; ctx carries the Send's
// Timeout.
func (p *Producer) sendBatched(ctx context.Context, m *message) (string, error) {
	e := &entry{msg: m, lead: make(chan struct{}, 1), result: make(chan error, 1)}
	b, leader := p.batcher.join(e, time.Now())
	if leader {
		return p.lead(ctx, b, e)
	}
	select {
	case err := <-e.result:
		return m.id, err
	case <-e.lead:
		return p.lead(ctx, b, e)
	case <-ctx.Done():
		if p.batcher.leave(b, e) {
			return "", ctx.Err()
		}
		return m.id, ctx.Err() // the batch left with the message
	}
}

// lead waits for the batch's window or for it to fill, then sends it and
// returns e's own verdict.
func (p *Producer) lead(ctx context.Context, b *pendingBatch, e *entry) (string, error) {
	select {
	case <-p.batcher.windowEnds(time.Until(b.opened.Add(p.opts.BatchWindow))):
	case <-b.full:
	case <-ctx.Done():
		p.batcher.leave(b, e) // hands the lead on; the batch is not taken yet
		return "", ctx.Err()
	}
	entries := p.batcher.take(b)

	// The others depend on this call: it must not end with this caller's
	// ctx. Its deadline is Timeout from the batch's opening, which no
	// entry's own deadline precedes.
	callCtx, cancel := context.WithDeadline(context.WithoutCancel(ctx), b.opened.Add(p.opts.Timeout))
	defer cancel()
	msgs := make([]*message, len(entries))
	for i, en := range entries {
		msgs[i] = en.msg
	}
	for i, err := range p.sendChunk(callCtx, msgs) {
		entries[i].result <- err
	}
	return e.msg.id, <-e.result
}

// windowEnds returns a channel that receives once a window of d has passed.
func (bt *batcher) windowEnds(d time.Duration) <-chan time.Time {
	if bt.after != nil {
		return bt.after(d)
	}
	return time.After(d) // collected unstopped since Go 1.23
}

// join adds e to the open batch, or opens a new one led by e if there is
// none or e's message does not fit. It returns e's batch and whether e
// leads it.
func (bt *batcher) join(e *entry, now time.Time) (b *pendingBatch, leader bool) {
	bt.mu.Lock()
	defer bt.mu.Unlock()
	b = bt.open
	if b != nil && b.bytes+e.msg.size > MaxSQSMessageBytes {
		bt.closeLocked(b) // its leader sends it now
		b = nil
	}
	if b == nil {
		b = &pendingBatch{opened: now, leader: e, full: make(chan struct{})}
		bt.open = b
		leader = true
	}
	b.entries = append(b.entries, e)
	b.bytes += e.msg.size
	if len(b.entries) == MaxBatchEntries {
		bt.closeLocked(b)
	}
	return b, leader
}

// take marks b as taken and returns its entries, which no longer change.
func (bt *batcher) take(b *pendingBatch) []*entry {
	bt.mu.Lock()
	defer bt.mu.Unlock()
	b.taken = true
	bt.closeLocked(b)
	return b.entries
}

// leave withdraws e from b unless b was already taken, and reports whether
// it did. If e led b, the oldest remaining entry becomes the leader.
func (bt *batcher) leave(b *pendingBatch, e *entry) bool {
	bt.mu.Lock()
	defer bt.mu.Unlock()
	if b.taken {
		return false
	}
	b.entries = slices.DeleteFunc(b.entries, func(x *entry) bool { return x == e })
	b.bytes -= e.msg.size
	switch {
	case len(b.entries) == 0:
		bt.closeLocked(b)
		b.leader = nil
	case b.leader == e:
		b.leader = b.entries[0]
		b.leader.lead <- struct{}{} // buffered; an entry is promoted at most once
	}
	return true
}

// closeLocked stops b from taking entries and wakes its leader.
func (bt *batcher) closeLocked(b *pendingBatch) {
	if !b.closed {
		b.closed = true
		close(b.full)
	}
	if bt.open == b {
		bt.open = nil
	}
}
