package testenv

import (
	"context"
	"testing"
)

// Background runs run (a consumer's Run, say) in a goroutine until the
// test ends; then it cancels run's context, waits for run to return and
// fails the test if run returned an error.
func Background(t testing.TB, what string, run func(ctx context.Context) error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("%s: %v", what, err)
		}
	})
}
