package consumer

import (
	"testing"
	"time"
)

// clock is a manual clock for a flow.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }
func newClock() *clock                   { return &clock{t: time.Unix(1_700_000_000, 0)} }
func finish(f *flow, n int)              { f.done.Add(int64(n)) }
func queue(concurrency int) QueueConfig {
	return QueueConfig{Concurrency: concurrency, MaxReceives: 100, MaxUnconfirmed: 1000}
}
func paceOf(rate float64, rtt time.Duration) pace {
	return pace{rate: rate, intake: rate, receive: rtt, settle: rtt}
}

func TestWindowsFor_FollowTheRateTimesTheRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		q    QueueConfig
		p    pace
		want windows
	}{
		{"idle: two long polls, a batch ahead, the floor of deletes", queue(10), paceOf(0, 20*time.Millisecond),
			windows{receives: 2, ahead: 10, unconfirmed: 10}},
		{"idle with one slot: a message ahead", queue(1), paceOf(0, 20*time.Millisecond),
			windows{receives: 2, ahead: 1, unconfirmed: 10}},
		{"idle with many slots: deletes up to the concurrency", queue(100), paceOf(0, 20*time.Millisecond),
			windows{receives: 2, ahead: 10, unconfirmed: 100}},
		{"10,000 jobs/s at 20 ms: 400 on their way each way", queue(10), paceOf(10_000, 20*time.Millisecond),
			windows{receives: 40, ahead: 400, unconfirmed: 400}},
		{"the same on the loopback: the floors", queue(10), paceOf(10_000, 100*time.Microsecond),
			windows{receives: 2, ahead: 10, unconfirmed: 10}},
		{"slow jobs: 100 a second at 20 ms", queue(10), paceOf(100, 20*time.Millisecond),
			windows{receives: 2, ahead: 10, unconfirmed: 10}},
		{"past the ceilings", queue(10), paceOf(1e6, time.Second),
			windows{receives: 100, ahead: 1000, unconfirmed: 1000}},
		{"slow deletes widen only the deletes", queue(10), pace{rate: 500, intake: 500, receive: 20 * time.Millisecond, settle: 220 * time.Millisecond},
			windows{receives: 2, ahead: 20, unconfirmed: 220}},
		{"a ceiling under the floor wins", QueueConfig{Concurrency: 10, MaxReceives: 2, MaxUnconfirmed: 3}, paceOf(10_000, 20*time.Millisecond),
			windows{receives: 2, ahead: 20, unconfirmed: 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := windowsFor(tt.q, tt.p); got != tt.want {
				t.Errorf("windowsFor(%+v, %+v) = %+v, want %+v", tt.q, tt.p, got, tt.want)
			}
		})
	}
}

func TestFlow_RateRisesAtOnceAndDecaysSlowly(t *testing.T) {
	c := newClock()
	f := newFlow(c.now, 10)
	c.advance(100 * time.Millisecond)
	finish(f, 500)
	if got := f.pace().rate; got != 5000 {
		t.Fatalf("after 500 jobs in 100 ms the rate is %v, want 5000", got)
	}
	// Nothing finishes for a second: the rate decays to 1/e, not to 0.
	c.advance(time.Second)
	if got := f.pace().rate; got < 5000*0.35 || got > 5000*0.38 {
		t.Fatalf("a second later the rate is %v, want about 5000/e", got)
	}
	// A tick shorter than flowTick does not update it.
	before := f.pace().rate
	finish(f, 1000)
	c.advance(flowTick / 2)
	if got := f.pace().rate; got != before {
		t.Fatalf("updated after %s: %v, want %v", flowTick/2, got, before)
	}
}

func TestFlow_TheIntakeIsAtMostWhatTheSlotsCanFinish(t *testing.T) {
	c := newClock()
	f := newFlow(c.now, 5)
	// Five 300 ms jobs that started together finish within one update:
	// 200 a second in that update, but five slots finish at most 5 / 0.3 s.
	c.advance(flowTick)
	for range 5 {
		f.finished(300 * time.Millisecond)
	}
	if p, most := f.pace(), 5/0.3; p.intake > most+0.01 || p.rate != 200 {
		t.Fatalf("pace %+v after five 300 ms jobs in one update, want the rate 200 and the intake at most %v", p, most)
	}
	// Jobs of 50 µs: the slots are no bound on a rate of thousands.
	f2 := newFlow(c.now, 10)
	c.advance(flowTick)
	for range 250 {
		f2.finished(50 * time.Microsecond)
	}
	if p := f2.pace(); p.intake != 10_000 || p.rate != 10_000 {
		t.Fatalf("pace %+v after 250 jobs of 50 µs in 25 ms, want rate and intake 10000", p)
	}
}

func TestFlow_WhileTheWindowHoldsALaneBackItDoublesEachUpdate(t *testing.T) {
	c := newClock()
	f := newFlow(c.now, 10)
	q := queue(10)
	const rtt = 20 * time.Millisecond
	f.roundTrip(receiveCall, rtt)
	f.roundTrip(settleCall, rtt)
	held := windowsFor(q, f.pace()).ahead
	for range 6 {
		// The lane finishes what it holds every round trip.
		perTick := float64(held) / rtt.Seconds() * (2 * flowTick).Seconds()
		c.advance(2 * flowTick)
		finish(f, int(perTick))
		next := windowsFor(q, f.pace()).ahead
		if next < 2*held-1 {
			t.Fatalf("the window grew from %d to %d, want it doubled", held, next)
		}
		held = next
	}
	if held < 640 {
		t.Fatalf("after six updates the window is %d", held)
	}
}

func TestFlow_RoundTripsAreSmoothedAndReceivesBoundedByTheShortest(t *testing.T) {
	c := newClock()
	f := newFlow(c.now, 10)
	if p := f.pace(); p.receive != defaultRTT || p.settle != defaultRTT {
		t.Fatalf("before any call: %+v, want the default %s", p, defaultRTT)
	}
	f.roundTrip(receiveCall, 20*time.Millisecond)
	f.roundTrip(settleCall, 200*time.Millisecond)
	if p := f.pace(); p.receive != 20*time.Millisecond || p.settle != 200*time.Millisecond {
		t.Fatalf("pace %+v, want receives 20ms and settling calls 200ms", p)
	}
	// Calls that wait in line at the queue lengthen the smoothed round
	// trip; receives are sized by at most four times the shortest, the
	// deletes allowed by the smoothed one.
	for range 50 {
		f.roundTrip(receiveCall, 900*time.Millisecond)
		f.roundTrip(settleCall, 900*time.Millisecond)
	}
	if p := f.pace(); p.receive != 80*time.Millisecond || p.settle < 850*time.Millisecond {
		t.Fatalf("pace %+v, want receives 4 × 20ms and settling calls near 900ms", p)
	}
	// The network slows down for good: within ten seconds the slower
	// round trip is the shortest.
	for range 4 {
		c.advance(3 * time.Second)
		for range 20 {
			f.roundTrip(receiveCall, 50*time.Millisecond)
		}
	}
	if got := f.pace().receive; got < 50*time.Millisecond || got > 60*time.Millisecond {
		t.Fatalf("after twelve seconds of 50 ms receives: %s", got)
	}
	// A quiet spell keeps what was known.
	c.advance(time.Minute)
	if got := f.pace().receive; got < 50*time.Millisecond || got > 60*time.Millisecond {
		t.Fatalf("after a quiet minute: %s, want the last known, about 50ms", got)
	}
}
