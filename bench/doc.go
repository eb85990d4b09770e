// Package bench compares busywork's consumer with what a Go user would
// pick instead, on one fauxqs SQS emulator in one run: the Go CDK's pubsub
// (gocloud.dev/pubsub/awssnssqs, driven by its documented concurrent
// receive loop) and a naive consumer (one message per receive, one delete
// per job).
//
// It is a module of its own, so that the main module never depends on
// gocloud.dev. BenchmarkDrain (drain_test.go says what it measures and
// how) runs each consumer in a child process of its own: the test binary
// of the consumer's package (busywork, gocdk, naive), with the child's
// side in internal/drain. Run it with the emulators that `make bench`
// starts:
//
//	make bench                     # the main module's benchmarks, then this one
//	make bench BENCH_JOBS=5000     # a quick run: 5,000 jobs per drain
package bench
