package consumer

import (
	"context"
	"errors"
	"sync"
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
	OutcomeLeaseLost    = "lease_lost"    // visibility ran out or could not be extended; another worker may have it
	OutcomeSnoozed      = "snoozed"       // waits, without a try counted, as a fresh copy (see Snooze)
)

// Causes of a handler's cancelled context, for context.Cause.
var (
	// ErrLeaseLost: the job's message could not be kept invisible, so
	// another worker may be running the same job.
	ErrLeaseLost = errors.New("consumer: lease on the message lost")
	// ErrShuttingDown: the drain timeout passed during a shutdown.
	ErrShuttingDown = errors.New("consumer: worker shutting down")
)

// state is where a message is between its receive and SQS's confirmation
// of what became of it.
type state int

const (
	stateQueued   state = iota // received, waiting for a worker
	stateRunning               // its handler runs
	stateDeleting              // a delete is queued or in flight; still heartbeated
	stateChanging              // a settling visibility change is queued; no longer heartbeated
	stateDone                  // SQS confirmed, or the lease was lost
)

// message is one received SQS message, from receive until SQS has
// confirmed what became of it. It is settled exactly once: by its handler's
// result, by the hung-handler watchdog, by a lost lease, or by shutdown,
// whichever comes first; the others then find it settled and do nothing.
// Its lock is never held across an SQS call.
type message struct {
	msg      types.Message
	delivery Delivery
	// received is when the receive that brought it was sent: SQS's 12
	// hours run from no later than that.
	received time.Time
	// malformed is why the body has no job type, if it has none.
	malformed error
	// route is the job type's registration, once its body is decoded.
	route *route

	mu    sync.Mutex
	state state
	// expires is when the visibility last confirmed runs out.
	expires time.Time
	// until is how far the heartbeat may extend it: the job's deadline and
	// grace once its handler runs.
	until time.Time
	// extending is set while a heartbeat extension is in flight; a
	// settling visibility change waits in pending until it is answered, so
	// that the settling change is the last one SQS sees.
	extending bool
	pending   *ack
	// cancel ends the handler's context while it runs.
	cancel context.CancelCauseFunc
}

// settle moves m from queued or running to next and reports whether this
// call did it; a message is settled once.
func (m *message) settle(next state) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.state >= stateDeleting {
		return false
	}
	m.state = next
	return true
}

// result is what a settled message became, and why.
type result struct {
	outcome string
	err     error         // the job's error, if any
	delay   time.Duration // retried or snoozed: how long until it runs again
	ran     time.Duration // how long the handler ran; 0 if it did not
	// copy, when set, is the fresh copy sent in place of the message,
	// which is then deleted; without it a retry sets the visibility.
	copy *copyOf
}
