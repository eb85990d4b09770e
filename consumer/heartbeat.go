package consumer

import (
	"context"
	"sync"
	"time"
)

// heartbeatCalls bounds a lane's extension calls in flight: a slow one
// does not hold the others back, and a stalled endpoint is not flooded.
const heartbeatCalls = 4

// heartbeat keeps a lane's messages invisible from their receive until SQS
// has confirmed what became of them: whenever less than renewBefore of a
// message's visibility is left, it is extended by one lease, in batches of
// up to 10 sent in parallel, up to its job's deadline and grace and never
// past SQS's 12 hours. A message whose visibility runs out, or whose
// extension SQS refuses for good, has lost its lease: its handler's context
// is cancelled, since another worker may have the job.
type heartbeat struct {
	l           *lane
	tick        time.Duration
	renewBefore time.Duration
	callTimeout time.Duration
	calls       chan struct{} // one token per extension call in flight
	wg          sync.WaitGroup

	mu   sync.Mutex
	msgs map[*message]struct{}
}

func newHeartbeat(l *lane) *heartbeat {
	renew := l.firstLease / 2
	return &heartbeat{
		l:           l,
		tick:        min(max(renew/4, 50*time.Millisecond), time.Second),
		renewBefore: renew,
		callTimeout: min(renew/2, maxCallTimeout),
		calls:       make(chan struct{}, heartbeatCalls),
		msgs:        make(map[*message]struct{}),
	}
}

func (h *heartbeat) track(m *message) {
	h.mu.Lock()
	h.msgs[m] = struct{}{}
	h.mu.Unlock()
}

func (h *heartbeat) forget(m *message) {
	h.mu.Lock()
	delete(h.msgs, m)
	h.mu.Unlock()
}

// tracked returns the messages the heartbeat keeps invisible.
func (h *heartbeat) tracked() []*message {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]*message, 0, len(h.msgs))
	for m := range h.msgs {
		out = append(out, m)
	}
	return out
}

// run beats every tick until stop is closed, then waits for its calls.
func (h *heartbeat) run(stop <-chan struct{}) {
	t := time.NewTicker(h.tick)
	defer t.Stop()
	defer h.wg.Wait()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			h.beat(h.l.c.now())
		}
	}
}

// beat sends the extensions due at now and settles the messages whose
// lease ran out.
func (h *heartbeat) beat(now time.Time) {
	var (
		due  []*message
		secs []int32
		lost []*message
	)
	for _, m := range h.tracked() {
		m.mu.Lock()
		left := m.expires.Sub(now)
		switch {
		case m.state >= stateChanging:
			// Settled by a visibility change (or done) since tracked
			// listed it: an extension now would overwrite that change.
		case left <= 0:
			lost = append(lost, m)
		case !m.extending && left < h.renewBefore:
			if s, ok := extension(now, m.received, m.until, h.l.lease); ok {
				m.extending = true
				due, secs = append(due, m), append(secs, s)
			}
		}
		m.mu.Unlock()
	}
	for _, m := range lost {
		h.l.leaseLost(m, "visibility ran out before it was extended")
	}
	for len(due) > 0 {
		n := min(len(due), maxBatch)
		select {
		case h.calls <- struct{}{}:
			h.wg.Add(1)
			go h.extend(now, due[:n:n], secs[:n:n])
		default: // every call slot busy: try again on the next tick
			for _, m := range due[:n] {
				h.unmark(m)
			}
		}
		due, secs = due[n:], secs[n:]
	}
}

// extend sends one batch of extensions and records what SQS answered.
func (h *heartbeat) extend(sent time.Time, batch []*message, secs []int32) {
	defer func() { <-h.calls; h.wg.Done() }()
	acks := make([]ack, len(batch))
	for i, m := range batch {
		acks[i] = ack{handle: receiptHandle(m), visibility: secs[i]}
	}
	ctx, cancel := context.WithTimeout(context.Background(), h.callTimeout)
	failed, err := h.l.timed(visibilityBatch(h.l.c.client, h.l.url))(ctx, acks)
	cancel()
	bad := make(map[int]entryError, len(failed))
	if err != nil {
		h.l.log.Warn("heartbeat failed; retrying on the next tick", "messages", len(batch), "error", err)
		for i := range batch {
			bad[i] = entryError{index: i, msg: err.Error()}
		}
	}
	for _, f := range failed {
		bad[f.index] = f
	}
	for i, m := range batch {
		f, failed := bad[i]
		if !failed {
			m.mu.Lock()
			m.expires = sent.Add(time.Duration(secs[i]) * time.Second)
			m.mu.Unlock()
		}
		h.unmark(m)
		if failed && f.senderFault {
			h.l.leaseLost(m, "SQS refused to extend its visibility: "+f.code+" "+f.msg)
		}
	}
}

// unmark ends m's extension and sends the settling change that waited for
// it, if any.
func (h *heartbeat) unmark(m *message) {
	m.mu.Lock()
	m.extending = false
	p := m.pending
	m.pending = nil
	m.mu.Unlock()
	if p != nil {
		h.l.changes.add(*p)
	}
}
