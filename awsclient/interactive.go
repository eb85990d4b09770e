package awsclient

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/smithy-go/middleware"
)

// The retry policy of [Interactive] clients, sized for a caller that waits
// at most 1 s in all (the producer's send deadline, the web app's request
// deadline): three attempts of at most 250 ms and two waits of 50 to
// 100 ms take at most 950 ms, so even a third attempt runs whole inside
// the second.
const (
	// InteractiveAttemptTimeout bounds one attempt of an Interactive
	// client's call: an SQS send or a DynamoDB read or write answers in a
	// few milliseconds in-region, so an attempt still waiting after 250 ms
	// is stuck (a hung connection, an overloaded host) and a fresh one on
	// another connection is the better bet.
	InteractiveAttemptTimeout = 250 * time.Millisecond
	// InteractiveMaxAttempts is how many attempts an Interactive client
	// makes of a call, the first included.
	InteractiveMaxAttempts = 3
	// InteractiveMaxBackoff is the longest wait before a retry. Each wait
	// is drawn at random between half of it and all of it (equal jitter),
	// so concurrent callers that failed together do not retry together,
	// and a throttled call still backs off a little.
	InteractiveMaxBackoff = 100 * time.Millisecond
)

// Interactive returns a copy of cfg for clients that a person waits on
// under a short total deadline, such as the web app's: service clients
// made from it retry inside that deadline instead of past it.
//
//   - Each attempt of a call gets [InteractiveAttemptTimeout] of its own, so
//     a hung first attempt leaves time for another. An attempt cut off by
//     it is retried (the SDK treats a cancelled context as final); the
//     caller's own deadline or cancellation still ends the call at once.
//   - Up to [InteractiveMaxAttempts] attempts, with a jittered wait of at
//     most [InteractiveMaxBackoff] between them. The SDK's standard retryer
//     waits up to 2 s before its first retry (a random fraction of 2 s), so
//     inside a 1 s deadline it rarely retries at all; and its
//     retry.AddWithMaxBackoffDelay, given less than a second, waits exactly
//     that long every time, without jitter.
//   - The standard retryable errors stay retryable: throttling, 5xx,
//     connection errors, and the SDK's timeout codes.
//   - No retry quota (ratelimit.None). The standard retryer's token bucket
//     (500 tokens, 5 per retry, 10 per retried timeout, 1 back per success)
//     stops all retries of a process after about 50 timed-out attempts and
//     gives them back only after hundreds of successes: after a short
//     incident every hung attempt would fail its request. A retry storm
//     cannot grow here: each call makes at most three attempts, all within
//     the caller's deadline, and a caller that fails answers 503 with
//     Retry-After, which pushes back on its clients.
//
// The standard AWS_MAX_ATTEMPTS and AWS_RETRY_MODE settings do not apply
// to these clients: the numbers above are what fits the deadline.
func Interactive(cfg aws.Config) aws.Config {
	cfg.Retryer = newInteractiveRetryer
	cfg.RetryMaxAttempts = 0
	cfg.RetryMode = ""
	cfg.APIOptions = append(slices.Clip(cfg.APIOptions), addAttemptTimeout(InteractiveAttemptTimeout))
	return cfg
}

// newInteractiveRetryer returns the retryer of Interactive clients.
func newInteractiveRetryer() aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = InteractiveMaxAttempts
		o.MaxBackoff = InteractiveMaxBackoff
		o.Backoff = retry.BackoffDelayerFunc(interactiveBackoff)
		o.RateLimiter = ratelimit.None
	})
}

// interactiveBackoff returns a wait between half of InteractiveMaxBackoff
// and all of it, whatever the attempt: with at most two retries, growing
// the wait would only push the last attempt out of the deadline.
func interactiveBackoff(int, error) (time.Duration, error) {
	half := InteractiveMaxBackoff / 2
	return half + rand.N(InteractiveMaxBackoff-half), nil
}

// addAttemptTimeout returns an API option that gives every attempt of a
// call, retries included, at most timeout: a Finalize middleware right
// after the SDK's retry loop ("Retry"), so that it wraps one attempt
// (signing, sending, reading the response) and not the retries.
func addAttemptTimeout(timeout time.Duration) func(*middleware.Stack) error {
	return func(stack *middleware.Stack) error {
		return stack.Finalize.Insert(attemptTimeout{timeout}, "Retry", middleware.After)
	}
}

// attemptTimeout is the middleware of addAttemptTimeout.
type attemptTimeout struct {
	timeout time.Duration
}

// ID names the middleware in the stack.
func (attemptTimeout) ID() string { return "busyworkAttemptTimeout" }

// HandleFinalize runs one attempt under a deadline of m.timeout. When that
// deadline, and not the caller's context, ended the attempt, the error is
// an *AttemptTimeoutError, which the retryer retries.
func (m attemptTimeout) HandleFinalize(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
	attemptCtx, cancel := context.WithTimeout(ctx, m.timeout)
	defer cancel()
	out, md, err := next.HandleFinalize(attemptCtx, in)
	if err != nil && attemptCtx.Err() != nil && ctx.Err() == nil {
		err = &AttemptTimeoutError{Limit: m.timeout, Err: err}
	}
	return out, md, err
}

// AttemptTimeoutError is the error of one attempt of an [Interactive]
// client's call that its own timeout cut off while the caller's context
// was still live. The SDK's retryer retries it; when it ends the last
// attempt, the call's error wraps it.
type AttemptTimeoutError struct {
	// Limit is the attempt's timeout.
	Limit time.Duration
	// Err is the attempt's error, usually a *smithy.CanceledError wrapping
	// context.DeadlineExceeded.
	Err error
}

// Error says that the attempt timed out, and why it failed.
func (e *AttemptTimeoutError) Error() string {
	return fmt.Sprintf("attempt timed out after %v: %v", e.Limit, e.Err)
}

// Unwrap returns the attempt's error.
func (e *AttemptTimeoutError) Unwrap() error { return e.Err }

// CanceledError returns false: the caller did not cancel. The retryer's
// retry.NoRetryCanceledError finds this method before the
// *smithy.CanceledError that the SDK's HTTP handler made of the attempt's
// expired context, so it does not rule the attempt out.
func (*AttemptTimeoutError) CanceledError() bool { return false }

// RetryableError returns true: another attempt may succeed.
func (*AttemptTimeoutError) RetryableError() bool { return true }

// Timeout returns true: the attempt timed out.
func (*AttemptTimeoutError) Timeout() bool { return true }
