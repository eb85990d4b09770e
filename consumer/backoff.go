package consumer

import (
	"math/rand/v2"
	"time"
)

// maxVisibility is the longest visibility timeout SQS accepts, and the most
// a message may stay invisible in total, counted from its receive.
const maxVisibility = 12 * time.Hour

// Backoff returns how long a job that failed on its receiveCount-th receive
// waits before SQS delivers it again: base doubled for each earlier receive,
// with "equal jitter" (a random point in the upper half of that value), and
// capped at limit (and at 12 hours). Equal jitter spreads retries of jobs
// that failed together while keeping the delays growing: the shortest delay
// of a receive is the longest of the one before.
//
// rnd returns a float in [0, 1); nil uses math/rand/v2.
func Backoff(receiveCount int, base, limit time.Duration, rnd func() float64) time.Duration {
	if rnd == nil {
		rnd = rand.Float64
	}
	limit = min(limit, maxVisibility)
	if base <= 0 || limit <= 0 {
		return 0
	}
	d := doubled(receiveCount, base, 2*limit)
	return min(d/2+time.Duration(rnd()*float64(d/2)), limit)
}

// doubled returns base doubled for each try before the n-th, once it
// reaches ceiling no further.
func doubled(n int, base, ceiling time.Duration) time.Duration {
	d := base
	for i := 1; i < n && d < ceiling; i++ {
		d *= 2
	}
	return d
}

// visibilitySeconds converts d to the whole seconds SQS takes, rounding up
// and clamping to [0, 12 h].
func visibilitySeconds(d time.Duration) int32 {
	if d <= 0 {
		return 0
	}
	d = min(d, maxVisibility)
	return int32((d + time.Second - 1) / time.Second)
}

// extension returns the visibility timeout, in whole seconds, that the
// heartbeat should set now for a message received at received: one more
// lease, but never past until (the job's deadline and grace) and never past
// 12 hours after the receive, which SQS would refuse. ok is false when no
// extension is allowed any more: the message is left to reappear.
func extension(now, received, until time.Time, lease time.Duration) (seconds int32, ok bool) {
	d := min(lease, until.Sub(now), received.Add(maxVisibility).Sub(now))
	// SQS counts visibility in whole seconds; round down so the extension
	// never goes past the cap.
	s := d / time.Second
	if s < 1 {
		return 0, false
	}
	return int32(s), true
}
