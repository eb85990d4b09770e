//go:build linux

package naive_test

import (
	"testing"

	"github.com/busywork/busywork/bench/internal/drain"
	"github.com/busywork/busywork/bench/naive"
)

// TestHelperProcess is BenchmarkDrain's child serving with the naive consumer;
// it skips unless BenchmarkDrain started it.
func TestHelperProcess(t *testing.T) { drain.Serve(t, naive.Consume) }
