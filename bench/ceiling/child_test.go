//go:build linux

package ceiling_test

import (
	"testing"

	"github.com/busywork/busywork/bench/ceiling"
	"github.com/busywork/busywork/bench/internal/drain"
)

// TestHelperProcess is BenchmarkDrain's child measuring the emulator's
// ceiling; it skips unless BenchmarkDrain started it.
func TestHelperProcess(t *testing.T) { drain.Serve(t, ceiling.Consume) }
