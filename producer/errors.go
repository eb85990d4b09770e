package producer

import (
	"errors"
	"fmt"
)

// Sentinel errors for the reasons the producer refuses a job before any
// network call. Compare with errors.Is; the returned errors name the job
// type and the problem.
var (
	// ErrInvalidJob is wrapped by the error for a job that is nil, fails
	// its Validate method (whose error is wrapped too) or cannot be
	// encoded.
	ErrInvalidJob = errors.New("invalid job")
	// ErrTooLarge is wrapped by *TooLargeError, the error for a message
	// over Options.MaxBodyBytes.
	ErrTooLarge = errors.New("message too large")
	// ErrInvalidDelay is wrapped by the error for a Delay outside 0 to
	// MaxDelay.
	ErrInvalidDelay = errors.New("invalid delay")
)

// TooLargeError reports a message larger than the producer's limit. It
// wraps ErrTooLarge.
type TooLargeError struct {
	JobType string
	// Size is the message's size as SQS counts it: the body plus each
	// attribute's name, data type and value.
	Size int
	// Body is the size of the body alone.
	Body int
	// Limit is Options.MaxBodyBytes.
	Limit int
}

// Error returns a message naming the job type, the size and the limit.
func (e *TooLargeError) Error() string {
	return fmt.Sprintf("producer: %s job: %v: %d bytes (body %d + attributes %d) is over the limit of %d",
		e.JobType, ErrTooLarge, e.Size, e.Body, e.Size-e.Body, e.Limit)
}

// Unwrap returns ErrTooLarge.
func (e *TooLargeError) Unwrap() error { return ErrTooLarge }

// EntryError reports a message that SQS refused in a SendMessageBatch
// reply (an entry of its Failed list). Nothing was enqueued for it.
type EntryError struct {
	JobType string
	JobID   string
	// Code and Message are SQS's, e.g. "InvalidMessageContents".
	Code    string
	Message string
	// SenderFault is true when SQS blames the request rather than itself;
	// sending the same message again will fail again.
	SenderFault bool
}

// Error returns a message naming the job type, its id and SQS's code and
// message.
func (e *EntryError) Error() string {
	return fmt.Sprintf("producer: SQS refused %s job %s: %s: %s", e.JobType, e.JobID, e.Code, e.Message)
}

// BatchError is the error SendBatch returns when some of its jobs were not
// sent. Each job's own error is in its Result.
type BatchError struct {
	// Failed is how many of the Total jobs have a non-nil Result.Err.
	Failed, Total int
	// Errs holds the failed jobs' errors in input order.
	Errs []error
}

// Error returns how many jobs failed and the first failure.
func (e *BatchError) Error() string {
	return fmt.Sprintf("producer: %d of %d jobs not sent (first: %v)", e.Failed, e.Total, e.Errs[0])
}

// Unwrap returns the failed jobs' errors, so that errors.Is and errors.As
// tell whether any job failed for a given reason.
func (e *BatchError) Unwrap() []error { return e.Errs }

func batchError(results []Result) error {
	var errs []error
	for _, r := range results {
		if r.Err != nil {
			errs = append(errs, r.Err)
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return &BatchError{Failed: len(errs), Total: len(results), Errs: errs}
}
