//go:build linux

package gocdk_test

import (
	"testing"

	"github.com/busywork/busywork/bench/gocdk"
	"github.com/busywork/busywork/bench/internal/drain"
)

// TestHelperProcess is BenchmarkDrain's child serving with the Go CDK's pubsub;
// it skips unless BenchmarkDrain started it.
func TestHelperProcess(t *testing.T) { drain.Serve(t, gocdk.Consume) }
