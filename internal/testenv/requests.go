package testenv

import (
	"context"
	"maps"
	"sync"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go/middleware"
)

// Requests counts an SDK client's requests by operation, one per attempt:
// its middleware sits after the retry middleware. Give its Add to the
// client's APIOptions.
type Requests struct {
	mu sync.Mutex
	n  map[string]int
}

// NewRequests returns a Requests that has counted nothing.
func NewRequests() *Requests { return &Requests{n: map[string]int{}} }

// Add is an APIOptions entry that installs the counting middleware.
func (c *Requests) Add(s *middleware.Stack) error {
	return s.Finalize.Insert(middleware.FinalizeMiddlewareFunc("countRequests",
		func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
			c.mu.Lock()
			c.n[awsmiddleware.GetOperationName(ctx)]++
			c.mu.Unlock()
			return next.HandleFinalize(ctx, in)
		}), "Retry", middleware.After)
}

// Snapshot returns the counts so far, by operation.
func (c *Requests) Snapshot() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.n)
}

// Total returns the count so far of every operation.
func (c *Requests) Total() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	total := 0
	for _, n := range c.n {
		total += n
	}
	return total
}
