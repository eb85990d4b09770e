package consumer

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// Outcomes of a job, as logged and counted in busywork_jobs_total.
const (
	OutcomeSucceeded    = "succeeded"     // handled and deleted
	OutcomeRetried      = "retried"       // failed; SQS delivers it again after a backoff
	OutcomeDeadLettered = "dead_lettered" // failed permanently; moved to the DLQ
	OutcomeReleased     = "released"      // unfinished at shutdown; visible again at once
	OutcomeHung         = "hung"          // handler ignored cancellation; given back for retry
)

// message is one received SQS message, from receive until SQS has
// confirmed what became of it. It is settled exactly once: by its handler's
// result, by the hung-handler watchdog, or by shutdown, whichever comes
// first; the others then find it settled and do nothing.
type message struct {
	msg      types.Message
	delivery Delivery
	received time.Time
	// malformed is why the body has no job type, if it has none.
	malformed error

	// mu guards the fields below. The heartbeat holds it while its
	// visibility change is in flight, so the change that settles a message
	// (a backoff, a release) is always the last one SQS sees.
	mu      sync.Mutex
	settled bool
	expires time.Time // when the visibility we last set runs out
	until   time.Time // the heartbeat extends visibility up to here

	// refs counts what still holds the message's slot: the handler
	// goroutine and the settling SQS call. The slot is free at zero.
	refs atomic.Int32
}

// settle marks m settled and reports whether this call did it.
func (m *message) settle() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.settled {
		return false
	}
	m.settled = true
	return true
}

// result is what a settled message became, and why.
type result struct {
	outcome string
	err     error         // the job's error, if any
	delay   time.Duration // retried: the visibility set
	ran     time.Duration // how long the handler ran; 0 if it did not
}
