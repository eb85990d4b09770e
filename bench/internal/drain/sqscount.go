//go:build linux

package drain

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// sqsCounter counts the HTTP requests an SQS client sends, by operation,
// retries included (each is a request SQS serves and bills), and notes
// those that failed below the SDK (a reset connection, a timeout) as
// problems: the SDK retries some of them silently, and a retried receive
// may have taken messages that then stay invisible for their lease. A
// request the consumer cancelled itself (its long polls at a stop) is no
// problem.
type sqsCounter struct {
	problems *Problems
	mu       sync.Mutex
	byOp     map[string]int64
}

type doFunc func(*http.Request) (*http.Response, error)

func (f doFunc) Do(r *http.Request) (*http.Response, error) { return f(r) }

// wrap is an sqs.Options func that makes the client's HTTP requests count.
func (c *sqsCounter) wrap(o *sqs.Options) {
	next := o.HTTPClient
	o.HTTPClient = doFunc(func(r *http.Request) (*http.Response, error) {
		// The SDK speaks SQS's JSON protocol: the operation is in this header.
		op := strings.TrimPrefix(r.Header.Get("X-Amz-Target"), "AmazonSQS.")
		resp, err := next.Do(r)
		c.mu.Lock()
		if c.byOp == nil {
			c.byOp = make(map[string]int64)
		}
		c.byOp[op]++
		c.mu.Unlock()
		if err != nil && !errors.Is(err, context.Canceled) {
			c.problems.Add("SQS HTTP request " + op + ": " + err.Error())
		}
		return resp, err
	})
}

// counts returns the requests counted so far by operation.
func (c *sqsCounter) counts() map[string]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.byOp)
}
