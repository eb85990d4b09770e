//go:build linux

package bench_test

import (
	"context"
	"testing"
	"time"

	"github.com/busywork/busywork/bench/internal/drain"
	"github.com/busywork/busywork/bench/internal/rtt"
	"github.com/busywork/busywork/internal/testenv"
	"github.com/busywork/busywork/producer"
)

// crashVisibility is the visibility timeout, in seconds, of a crash run's
// queue. After a SIGKILL the messages the consumer held stay invisible
// until their timeout ends (busywork's heartbeat keeps renewing it, so the
// queue's own timeout is what is left to wait), and the count waits for
// them: 5 s keeps that wait short, while staying far above the round trip
// and the no-op jobs, so that no message comes back on its own while the
// consumer runs (the Go CDK renews no visibility timeout) and every job
// counted as run again was run again because of the kill.
const crashVisibility = 5

// crashFigures are one consumer's SIGKILL runs in one scenario.
type crashFigures struct {
	// finished is the most jobs a run's child reported finished before it
	// died (the kill comes once a third are; more finish meanwhile).
	finished int
	// reruns is the most finished jobs a run delivered again.
	reruns int
}

// benchCrash measures what a SIGKILL makes run again, b.N times: it fills
// a queue (visibility timeout crashVisibility) with cfg.Jobs no-op jobs,
// starts the child with cfg through via (nil: directly) with Stream set
// (the child reports each job it finished, before its handler returns
// nil, so before the consumer can delete it), SIGKILLs it once a third of
// the jobs are reported finished,
// then receives and deletes what is left directly from the emulator
// (drainRest), waiting out the visibility timeout of what the child held.
// A job reported finished and received again is a rerun: a worker taking
// over would run it again. Every job must be finished or received again
// (a job neither was deleted unfinished: b fails). busywork bounds its
// reruns by Concurrency + MaxUnconfirmed; the count is reported, not
// checked against it. ok is false when b failed.
func benchCrash(b *testing.B, child string, via *rtt.Proxy, cfg drain.Config) (f crashFigures, ok bool) {
	b.ReportMetric(0, "ns/op")
	filler := testenv.SQS(b)
	cfg.GiveUp = 10 * time.Minute
	for range b.N {
		url, _ := testenv.NewQueue(b, filler, testenv.QueueOptions{VisibilityTimeout: crashVisibility})
		cfg.QueueURL = url
		fillQueue(b, producer.New(filler, url, producer.WithTimeout(time.Minute)), cfg.Jobs)
		finished := make(map[int]bool)
		killAt := max(cfg.Jobs/3, 1)
		r := runChild(b, child, via, cfg, func(l drain.Line, kill func()) error {
			if l.Finished != nil {
				if finished[*l.Finished] = true; len(finished) >= killAt {
					kill()
				}
			}
			return nil
		})
		if r.rep != nil {
			b.Fatalf("%s: the child handled all %d jobs before the SIGKILL", cfg.Consumer, cfg.Jobs)
		}
		killed := time.Now()
		ctx, cancel := context.WithTimeout(context.Background(), crashVisibility*time.Second+2*time.Minute)
		again, err := drainRest(ctx, filler, url, cfg.Jobs)
		cancel()
		if err != nil {
			b.Fatalf("%s: after the SIGKILL: %v", cfg.Consumer, err)
		}
		reruns, lost := 0, 0
		for i := range cfg.Jobs {
			switch {
			case finished[i] && again[i]:
				reruns++
			case !finished[i] && !again[i]:
				lost++
			}
		}
		b.Logf("%s: SIGKILL once %d of %d jobs were finished; %d reported finished in all; %d delivered again after it, %d of them finished (reruns); drained in %s%s",
			cfg.Consumer, killAt, cfg.Jobs, len(finished), len(again), reruns, time.Since(killed).Round(time.Millisecond), r.proxied())
		if lost > 0 {
			b.Errorf("%s: %d jobs were neither reported finished nor delivered again: deleted unfinished", cfg.Consumer, lost)
		}
		f.finished = max(f.finished, len(finished))
		f.reruns = max(f.reruns, reruns)
	}
	b.ReportMetric(float64(f.reruns), "reruns")
	b.ReportMetric(float64(f.finished), "finished-at-kill")
	return f, !b.Failed()
}
