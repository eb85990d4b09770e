package consumer

import (
	"math"
	"sync"
	"sync/atomic"
	"time"
)

// Flow control. A lane that finishes r jobs a second, with SQS round trips
// of t, has by Little's law r×t messages on their way to it and r×t
// deletes on their way to SQS at any moment: at t = 20 ms and 10,000 jobs
// a second, 200 of each, 20 receives and 20 delete batches in flight. No
// fixed count fits both a loopback emulator (t = 0.1 ms) and a region, so
// a lane measures r and t as it runs and sizes its windows from them:
//
//	window = 2 × r × t
//
// The factor 2 leaves room to grow: while the window is what holds a lane
// back, the rate it allows is measured on the next update and the window
// doubles, so a lane reaches its handlers' or its queue's pace within a
// few round trips. r is the peak rate, decaying with rateMemory, so that a
// pause does not shrink the windows at once. What a lane receives is
// sized by r at most what its slots can finish by Little's law, its
// concurrency over the mean time a job holds a slot: jobs that finish
// together within one update (five 300 ms jobs started at once) read as a
// rate many times what the slots sustain, and the lane would hold that
// much more ahead of its handlers. The deletes are not: a slot's time
// includes waiting for room among the unconfirmed deletes, and bounding
// their window by it would feed back (2026-12-05, 20 ms, concurrency 10:
// 6,100 to 10,000 jobs/s against 9,900 to 12,200 without, alternating).
//
// With the round trip of receives, the window sizes the receives in
// flight (window / 10, at least minReceives) and what a lane holds ahead
// of its handlers (window, at least one batch: what it can run in about
// one round trip, so other workers get the rest of the backlog). Here t
// is the smoothed round trip of receives that brought messages (srtt, as
// TCP keeps one): on a loaded machine it holds the time an answer waits
// to be read, which the shortest round trip leaves out. But receives
// beyond what the queue serves only wait in line, and a t that grew with
// that wait would send more of them, so t is at most maxQueueing times
// the shortest round trip of the last rttMemory (the round trip BBR sizes
// a TCP window by). With the round trip of settling calls (deletes,
// visibility changes), the window sizes the deletes that may be
// unconfirmed (at least the concurrency and a batch, at most
// MaxUnconfirmed). Those are only allowed, never sent to fill the window,
// so t is their smoothed round trip, unbounded: a slow SQS does not make
// handlers wait for confirmations.
const (
	// flowTick is the shortest time between two rate updates.
	flowTick = 25 * time.Millisecond
	// rateMemory is how long the peak rate takes to decay to 1/e once
	// jobs stop finishing.
	rateMemory = time.Second
	// rttMemory is how long a round trip counts towards the shortest.
	rttMemory = 10 * time.Second
	// maxQueueing bounds the round trip receives are sized by, in
	// multiples of the shortest.
	maxQueueing = 4
	// defaultRTT stands in for a round trip until one is measured.
	defaultRTT = 20 * time.Millisecond
	// minReceives is the fewest receives a lane keeps in flight: two long
	// polls, so that a job on an idle lane is picked up at once even while
	// one poll's answer is on its way.
	minReceives = 2
)

// flow measures a lane's pace: the jobs its handlers finish and the round
// trips of its SQS calls, receives apart from the settling calls (deletes
// and visibility changes), since either can be slow without the other.
// Its methods are safe for concurrent use.
type flow struct {
	now   func() time.Time
	slots int // the lane's concurrency

	done    atomic.Int64 // jobs finished since the last update
	service atomic.Int64 // a job's time in its slot in ns, smoothed; 0: none yet

	mu      sync.Mutex
	last    time.Time  // of the last rate update
	rate    float64    // jobs a second: the peak, decaying
	receive roundTrips // of receives that brought messages
	settle  roundTrips // of deletes and visibility changes
}

// callKind is a kind of SQS call whose round trips a flow measures.
type callKind int

const (
	receiveCall callKind = iota
	settleCall
)

// newFlow returns the flow of a lane of slots workers.
func newFlow(now func() time.Time, slots int) *flow {
	t := now()
	return &flow{now: now, slots: slots, last: t, receive: roundTrips{since: t}, settle: roundTrips{since: t}}
}

// finished counts a job whose handler returned (or that left the lane
// without one) after holding its slot for d.
func (f *flow) finished(d time.Duration) {
	f.done.Add(1)
	for { // an average that gives each job an eighth of the weight
		old := f.service.Load()
		next := max(int64(d), 1)
		if old != 0 {
			next = max(old+(int64(d)-old)/8, 1)
		}
		if f.service.CompareAndSwap(old, next) {
			return
		}
	}
}

// roundTrip records the duration of a successful SQS call of kind k. A
// receive counts only when it brought messages: an empty one waited out
// its long poll.
func (f *flow) roundTrip(k callKind, d time.Duration) {
	if d <= 0 {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	r := &f.receive
	if k == settleCall {
		r = &f.settle
	}
	r.add(f.now(), d)
}

// pace is what a flow measured: the rate in jobs a second, and the round
// trips that size the receives and the settling calls.
type pace struct {
	rate            float64 // jobs a second: the peak, decaying
	intake          float64 // rate, at most what the slots can finish
	receive, settle time.Duration
}

// pace returns the lane's pace, updating the rate when flowTick has passed
// since the last update.
func (f *flow) pace() pace {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now()
	if dt := now.Sub(f.last); dt >= flowTick {
		n := f.done.Swap(0)
		f.rate = math.Max(float64(n)/dt.Seconds(), f.rate*math.Exp(-dt.Seconds()/rateMemory.Seconds()))
		f.last = now
	}
	intake := f.rate
	if service := time.Duration(f.service.Load()); service > 0 {
		intake = math.Min(intake, float64(f.slots)/service.Seconds())
	}
	return pace{
		rate:    f.rate,
		intake:  intake,
		receive: min(f.receive.smoothed(), maxQueueing*f.receive.shortest(now)),
		settle:  f.settle.smoothed(),
	}
}

// roundTrips keeps a smoothed round trip (an average that gives each new
// one an eighth of the weight) and the shortest of the last rttMemory: of
// the current half and of the one before.
type roundTrips struct {
	srtt        time.Duration // 0: none measured
	now, before time.Duration // 0: none measured
	since       time.Time     // when the current half began
}

func (r *roundTrips) add(now time.Time, d time.Duration) {
	if r.srtt == 0 {
		r.srtt = d
	} else {
		r.srtt += (d - r.srtt) / 8
	}
	r.rotate(now)
	if r.now == 0 || d < r.now {
		r.now = d
	}
}

// smoothed returns the smoothed round trip, or defaultRTT before any.
func (r *roundTrips) smoothed() time.Duration {
	if r.srtt == 0 {
		return defaultRTT
	}
	return r.srtt
}

// shortest returns the shortest round trip of the last rttMemory, or
// defaultRTT before any.
func (r *roundTrips) shortest(now time.Time) time.Duration {
	r.rotate(now)
	d := r.now
	if r.before != 0 && (d == 0 || r.before < d) {
		d = r.before
	}
	if d == 0 {
		return defaultRTT
	}
	return d
}

// rotate starts a new half when the current one is over; a half without
// calls keeps what the one before knew.
func (r *roundTrips) rotate(now time.Time) {
	if now.Sub(r.since) < rttMemory/2 {
		return
	}
	if r.now != 0 {
		r.before = r.now
	}
	r.now, r.since = 0, now
}

// windows is what a lane may keep in flight.
type windows struct {
	receives    int // receives in flight
	ahead       int // messages held beyond those whose handlers run
	unconfirmed int // deletes not yet confirmed by SQS
}

// windowsFor sizes a lane's windows from its pace (see flow): the
// receives and what is held ahead from 2 × intake × the receive round trip,
// the unconfirmed deletes from 2 × rate × the settling round trip.
func windowsFor(q QueueConfig, p pace) windows {
	batch := min(maxBatch, q.Concurrency)
	in, out := window(p.intake, p.receive), window(p.rate, p.settle)
	return windows{
		receives:    min(max(minReceives, (in+maxBatch-1)/maxBatch), q.MaxReceives),
		ahead:       min(max(batch, in), maxBatch*q.MaxReceives),
		unconfirmed: min(max(q.Concurrency, maxBatch, out), q.MaxUnconfirmed),
	}
}

// window returns 2 × rate × rtt, in messages, rounded up.
func window(rate float64, rtt time.Duration) int {
	w := 2 * rate * rtt.Seconds()
	if w >= math.MaxInt32 {
		return math.MaxInt32
	}
	return int(math.Ceil(w))
}
