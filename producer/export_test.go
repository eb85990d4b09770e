package producer

import (
	"sync"
	"time"
)

// ManualBatchWindows makes p's batch windows end only when the returned
// func is called: it ends every window open then or opened later. A test
// then decides which Sends meet in a batch, not the scheduler. Call it
// before p's first Send.
func ManualBatchWindows(p *Producer) (endWindows func()) {
	ends := make(chan time.Time)
	p.batcher.after = func(time.Duration) <-chan time.Time { return ends }
	return sync.OnceFunc(func() { close(ends) })
}

// The tests' own job types (fake_test.go), for the external tests too.
type (
	Welcome = welcome
	Ticket  = ticket
)
