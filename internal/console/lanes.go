package console

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/busywork/busywork/internal/dlq"
)

// sample is one reading of a lane's queue and dead-letter queue.
type sample struct {
	at                         time.Time
	visible, inFlight, delayed int
	dead                       int
}

// backlog is what the lane's queue holds: visible, in flight and delayed.
func (s sample) backlog() int { return s.visible + s.inFlight + s.delayed }

// lane is one lane's samples, dead letters counted and the lock its
// dead-letter operations take.
type lane struct {
	Lane
	// busy is held by whatever receives from the dead-letter queue: a
	// count, a peek, a replay or a purge, one at a time, so that one
	// does not miss the letters another holds.
	busy chan struct{}

	mu        sync.Mutex
	samples   []sample // oldest first, at most limit
	limit     int
	lastEmpty time.Time // the last sample whose backlog was 0
	err       string    // why the last sample failed, if it did
	fleet     *fleetRate
	stats     *dlq.Stats // the last count of its dead letters
	holder    string     // what holds busy, for messages
}

func newLane(l Lane, limit int) *lane {
	return &lane{Lane: l, busy: make(chan struct{}, 1), limit: limit}
}

// sample reads every lane's counts and the workers' metrics, and records
// them.
func (s *Server) sample(ctx context.Context) {
	rates := s.fleet.scrape(ctx, s.cfg.Now())
	for _, l := range s.lanes {
		smp, err := s.read(ctx, l)
		l.mu.Lock()
		if err != nil {
			l.err = err.Error()
			if ctx.Err() == nil {
				s.log.Warn("console: sample failed", "lane", l.Name, "error", err)
			}
		} else {
			l.err = ""
			l.add(smp)
		}
		l.fleet = rates[l.Name]
		if l.fleet == nil {
			l.fleet = rates[""] // nil without metrics URLs
		}
		l.mu.Unlock()
	}
}

// read reads lane l's counts: two GetQueueAttributes calls.
func (s *Server) read(ctx context.Context, l *lane) (sample, error) {
	smp := sample{at: s.cfg.Now()}
	counts, err := queueCounts(ctx, s.cfg.SQS, l.Queue.URL)
	if err != nil {
		return smp, fmt.Errorf("queue %s: %w", l.Queue.Name, err)
	}
	smp.visible, smp.inFlight, smp.delayed = counts[0], counts[1], counts[2]
	counts, err = queueCounts(ctx, s.cfg.SQS, l.Queue.DeadLetterURL)
	if err != nil {
		return smp, fmt.Errorf("dead-letter queue %s: %w", l.Queue.DeadLetterName, err)
	}
	smp.dead = counts[0] + counts[1] + counts[2]
	return smp, nil
}

var countNames = []types.QueueAttributeName{
	types.QueueAttributeNameApproximateNumberOfMessages,
	types.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
	types.QueueAttributeNameApproximateNumberOfMessagesDelayed,
}

// queueCounts returns the visible, in-flight and delayed messages of the
// queue at url, as SQS counts them (approximately).
func queueCounts(ctx context.Context, client QueueAttributesAPI, url string) ([3]int, error) {
	var n [3]int
	out, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url), AttributeNames: countNames})
	if err != nil {
		return n, err
	}
	for i, name := range countNames {
		n[i], _ = strconv.Atoi(out.Attributes[string(name)]) // absent counts 0
	}
	return n, nil
}

// add records smp, dropping the oldest sample past the limit. The caller
// holds l.mu.
func (l *lane) add(smp sample) {
	if len(l.samples) == l.limit {
		l.samples = append(l.samples[:0], l.samples[1:]...)
	}
	l.samples = append(l.samples, smp)
	if smp.backlog() == 0 {
		l.lastEmpty = smp.at
	}
}

// netWindow is the span over which a lane's backlog's net change is
// measured.
const netWindow = time.Minute

// laneView is a lane as GET /api/lanes shows it.
type laneView struct {
	Name     string     `json:"name"`
	Queue    string     `json:"queue"`
	DLQ      string     `json:"dlq"`
	Sampled  bool       `json:"sampled"`
	Visible  int        `json:"visible"`
	InFlight int        `json:"in_flight"`
	Delayed  int        `json:"delayed"`
	Dead     int        `json:"dead"`
	Oldest   oldest     `json:"oldest"`
	NetRate  *float64   `json:"net_rate"` // backlog change a second over the last minute; nil before two samples
	Fleet    *fleetRate `json:"fleet"`    // nil without metrics URLs
	Error    string     `json:"error,omitempty"`
	// History holds [unix ms, visible, in flight, delayed, dead] per
	// sample, oldest first.
	History [][5]int64 `json:"history"`
}

// oldest bounds the age of the oldest message in a lane's queue.
type oldest struct {
	// Kind is "empty" (the queue holds nothing), "under" (the queue was
	// empty Seconds ago, so nothing in it is older) or "over" (it has
	// not been empty in the Seconds the console has watched it).
	Kind    string  `json:"kind"`
	Seconds float64 `json:"seconds"`
}

// view returns the lane as the API shows it, at now.
func (l *lane) view(now time.Time) laneView {
	l.mu.Lock()
	defer l.mu.Unlock()
	v := laneView{Name: l.Name, Queue: l.Queue.Name, DLQ: l.Queue.DeadLetterName, Error: l.err, Fleet: l.fleet,
		History: make([][5]int64, len(l.samples))}
	for i, smp := range l.samples {
		v.History[i] = [5]int64{smp.at.UnixMilli(), int64(smp.visible), int64(smp.inFlight), int64(smp.delayed), int64(smp.dead)}
	}
	if len(l.samples) == 0 {
		return v
	}
	last := l.samples[len(l.samples)-1]
	v.Sampled = true
	v.Visible, v.InFlight, v.Delayed, v.Dead = last.visible, last.inFlight, last.delayed, last.dead
	switch {
	case last.backlog() == 0:
		v.Oldest = oldest{Kind: "empty"}
	case !l.lastEmpty.IsZero():
		v.Oldest = oldest{Kind: "under", Seconds: now.Sub(l.lastEmpty).Seconds()}
	default:
		v.Oldest = oldest{Kind: "over", Seconds: now.Sub(l.samples[0].at).Seconds()}
	}
	if first := l.since(last.at.Add(-netWindow)); first.at.Before(last.at) {
		rate := float64(last.backlog()-first.backlog()) / last.at.Sub(first.at).Seconds()
		v.NetRate = &rate
	}
	return v
}

// since returns the first sample at or after t, or the last sample. The
// caller holds l.mu, and there is a sample.
func (l *lane) since(t time.Time) sample {
	for _, smp := range l.samples {
		if !smp.at.Before(t) {
			return smp
		}
	}
	return l.samples[len(l.samples)-1]
}
