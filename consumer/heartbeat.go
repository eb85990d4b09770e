package consumer

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// heartbeat keeps a lane's unsettled messages invisible while they are
// worked on: from its receive until it is settled, each message's
// visibility is extended by one lease whenever less than half a lease is
// left, in batches of up to 10, up to its job's deadline and grace and never
// past SQS's 12 hours.
type heartbeat struct {
	l    *lane
	tick time.Duration
	mu   sync.Mutex
	msgs map[*message]struct{}
}

func newHeartbeat(l *lane) *heartbeat {
	return &heartbeat{
		l:    l,
		tick: min(max(l.lease/4, 100*time.Millisecond), 10*time.Second),
		msgs: make(map[*message]struct{}),
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

// tracked returns the messages not yet settled.
func (h *heartbeat) tracked() []*message {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]*message, 0, len(h.msgs))
	for m := range h.msgs {
		out = append(out, m)
	}
	return out
}

// run beats every tick until stop is closed.
func (h *heartbeat) run(stop <-chan struct{}) {
	t := time.NewTicker(h.tick)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			h.beat(now)
		}
	}
}

// beat extends every message due for it. Each due message stays locked
// until its extension is answered, so settling it waits for the extension
// and the settling change comes last.
func (h *heartbeat) beat(now time.Time) {
	var (
		batch []*message
		secs  []int32
	)
	for _, m := range h.tracked() {
		m.mu.Lock()
		s, ok := extension(now, m.received, m.until, h.l.lease)
		if m.settled || m.expires.Sub(now) >= h.l.lease/2 || !ok {
			m.mu.Unlock()
			continue
		}
		batch, secs = append(batch, m), append(secs, s)
		if len(batch) == maxBatch {
			h.extend(now, batch, secs)
			batch, secs = batch[:0], secs[:0]
		}
	}
	if len(batch) > 0 {
		h.extend(now, batch, secs)
	}
}

// extend sends one batch of extensions and unlocks its messages.
func (h *heartbeat) extend(now time.Time, batch []*message, secs []int32) {
	entries := make([]types.ChangeMessageVisibilityBatchRequestEntry, len(batch))
	for i, m := range batch {
		entries[i] = types.ChangeMessageVisibilityBatchRequestEntry{
			Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.msg.ReceiptHandle, VisibilityTimeout: secs[i],
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), min(callTimeout, h.l.lease/2))
	out, err := h.l.c.client.ChangeMessageVisibilityBatch(ctx, &sqs.ChangeMessageVisibilityBatchInput{
		QueueUrl: aws.String(h.l.url), Entries: entries,
	})
	cancel()
	failed := make(map[int]entryError)
	if err != nil {
		h.l.log.Warn("heartbeat failed; retrying on the next tick", "messages", len(batch), "error", err)
		for i := range batch {
			failed[i] = entryError{}
		}
	} else {
		for _, f := range batchFailures(out.Failed, len(batch)) {
			failed[f.index] = f
			h.l.log.Warn("heartbeat entry failed", "job_id", batch[f.index].delivery.ID, "code", f.code, "error", f.msg)
		}
	}
	for i, m := range batch {
		if _, bad := failed[i]; !bad {
			m.expires = now.Add(time.Duration(secs[i]) * time.Second)
		}
		m.mu.Unlock()
	}
}
