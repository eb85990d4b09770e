package consumer

import (
	"fmt"
	"time"
)

// RetryPolicy is how often, and how far apart, a job type is tried.
type RetryPolicy struct {
	// Attempts is how many times a job is tried before it is dead-lettered
	// with the reason "attempts exhausted" and its last error. busywork
	// counts them across snoozes and fresh copies, so they do not depend
	// on the queue's maxReceiveCount: a job with more attempts than that
	// is sent on as a fresh copy (a SendMessage and a DeleteMessage) when
	// it fails on the queue's last receive, and the redrive policy stays
	// the last safety net (for a worker that dies on that receive). Zero
	// leaves the count to the queue's maxReceiveCount, as a type without
	// a policy has it.
	Attempts int
	// Base is the delay after the first failed attempt; it doubles with
	// each attempt. Zero means Config.BackoffBase.
	Base time.Duration
	// Max caps the delay. Zero means Config.BackoffMax. At most 12h.
	Max time.Duration
	// Jitter is the share of each delay that is random, from 0 (none) to
	// 1. Zero means 0.5: "equal jitter", as Backoff has.
	Jitter float64
}

// Retry sets the retry policy of the registration's job type. Handle
// panics if p is out of range (negative Attempts or delays, Max below
// Base, Jitter outside 0..1).
func Retry(p RetryPolicy) HandleOption {
	return func(r *route) { r.retry = p }
}

// check reports what is wrong with p.
func (p RetryPolicy) check() error {
	switch {
	case p.Attempts < 0:
		return fmt.Errorf("attempts %d is negative", p.Attempts)
	case p.Base < 0:
		return fmt.Errorf("base %s is negative", p.Base)
	case p.Max < 0 || p.Max > maxVisibility || p.Max != 0 && p.Max < p.Base:
		return fmt.Errorf("max %s is not between the base (%s) and 12h", p.Max, p.Base)
	case !(p.Jitter >= 0 && p.Jitter <= 1):
		return fmt.Errorf("jitter %v is not between 0 and 1", p.Jitter)
	}
	return nil
}

// withDefaults fills p's zero delays from the consumer's backoff.
func (p RetryPolicy) withDefaults(base, limit time.Duration) RetryPolicy {
	setDefault(&p.Base, base)
	setDefault(&p.Max, max(limit, p.Base))
	if p.Jitter == 0 {
		p.Jitter = 0.5
	}
	return p
}

// delay is the wait after the attempt-th try failed: Base doubled for each
// earlier attempt, capped at Max, of which a Jitter share is random. rnd
// returns a float in [0, 1).
func (p RetryPolicy) delay(attempt int, rnd func() float64) time.Duration {
	if p.Base <= 0 || p.Max <= 0 {
		return 0
	}
	d := min(doubled(attempt, p.Base, p.Max), p.Max)
	fixed := time.Duration(float64(d) * (1 - p.Jitter))
	return fixed + time.Duration(rnd()*float64(d-fixed))
}
