package consumer

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
)

// A Limiter paces the starts of the jobs it limits, for every worker that
// shares it: package ratelimit has one coordinated through DynamoDB.
// Several job types share a limit by sharing a Limiter, as the handlers
// that send mail share SES's sending rate.
type Limiter interface {
	// Reserve takes the next start the limit allows if it comes within
	// maxWait of now, and returns its time with ok true; the job starts
	// then. Otherwise it takes nothing, and returns about when a start
	// will be free, with ok false: the job waits that long and asks
	// again.
	Reserve(ctx context.Context, maxWait time.Duration) (at time.Time, ok bool, err error)
	// Throttled tells the limiter that the service it protects refused a
	// call for going too fast (a ThrottlingException): it should slow
	// down, for every worker that shares it.
	Throttled(ctx context.Context) error
}

// RateLimit paces the registration's jobs by l: a job starts only when l
// gives it a start. A job over the limit waits its turn, held by the
// worker if its turn is within Config.HoldLimit and sent on as a fresh
// copy otherwise; the wait spends neither an attempt nor a receive. A
// handler error that is an AWS throttling error (ThrottlingException,
// TooManyRequestsException and the other codes the SDK retries as
// throttles) slows l down and the job waits for its next turn instead of
// failing. Mux.Limit sets a type's Limiter from outside its registration.
func RateLimit(l Limiter) HandleOption {
	return func(r *route) { r.limiter = l }
}

var throttles = retry.IsErrorThrottles(retry.DefaultThrottles)

// throttlePause is the least a throttled job waits before its next turn.
const throttlePause = time.Second

// throttled reports whether err is an AWS service's refusal for going too
// fast.
func throttled(err error) bool {
	return err != nil && throttles.IsErrorThrottle(err) == aws.TrueTernary
}

// Limit sets the Limiter of job type typ, registered already, as
// RateLimit does in its registration, replacing any: for limits that come
// from configuration. A nil l removes the limit. It returns an error
// wrapping ErrUnknownType for a type with no handler.
func (m *Mux) Limit(typ string, l Limiter) error {
	r, ok := m.routes[typ]
	if !ok {
		return m.unknown(typ)
	}
	r.limiter = l
	return nil
}
