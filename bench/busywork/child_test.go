//go:build linux

package busywork_test

import (
	"testing"

	"github.com/busywork/busywork/bench/busywork"
	"github.com/busywork/busywork/bench/internal/drain"
)

// TestHelperProcess is BenchmarkDrain's child serving with busywork's consumer;
// it skips unless BenchmarkDrain started it.
func TestHelperProcess(t *testing.T) { drain.Serve(t, busywork.Consume) }
