// Package bench compares busywork's consumer with what a Go user would
// pick instead, on one fauxqs SQS emulator in one run, both on the
// loopback (about 0.1 ms a call) and at SQS's real round trip (10 and
// 20 ms a call, added by a proxy in front of the emulator: internal/rtt):
// the Go CDK's pubsub (gocloud.dev/pubsub/awssnssqs, driven by its
// documented concurrent receive loop), a naive consumer (one message per
// receive, one delete per job; on the loopback only), and an ideal client
// that is no consumer (ceiling: the most the emulator serves through the
// same proxy). It also SIGKILLs busywork and the Go CDK in the middle of a
// drain and counts the finished jobs that are delivered again.
//
// It is a module of its own, so that the main module never depends on
// gocloud.dev. BenchmarkDrain (drain_test.go says what it measures and
// how) runs each consumer in a child process of its own: the test binary
// of the consumer's package (busywork, gocdk, naive, ceiling), with the
// child's side in internal/drain; the proxy runs in the parent. Run it
// with the emulators that `make bench` starts:
//
//	make bench                     # the main module's benchmarks, then this one
//	make bench BENCH_JOBS=5000     # a quick run: 5,000 jobs per no-op drain
package bench
