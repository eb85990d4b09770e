package producer

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/busywork/busywork/jobs"
)

// busywork's lanes. A lane is one SQS queue (with its own dead-letter
// queue) that the worker serves with its own pollers and concurrency
// limit, so that jobs a person waits for do not queue behind bulk work.
const (
	// LaneCritical is for jobs a person is waiting for, such as a login
	// link.
	LaneCritical = "critical"
	// LaneDefault is for every job type the routing table does not name.
	LaneDefault = "default"
	// LaneBulk is for large bursts, such as an order's tickets.
	LaneBulk = "bulk"
)

// Lanes returns busywork's lanes, most urgent first.
func Lanes() []string { return []string{LaneCritical, LaneDefault, LaneBulk} }

// Routes is a routing table: the lane of each job type it names. A job
// type it does not name goes to LaneDefault.
type Routes map[string]string

// ParseRoutes reads overrides of a routing table from text such as
// "ping=bulk, welcome_email=critical": comma-separated type=lane pairs.
// Each lane must be one of lanes; an empty text is an empty table.
func ParseRoutes(text string, lanes []string) (Routes, error) {
	routes := Routes{}
	for pair := range strings.SplitSeq(text, ",") {
		pair = strings.TrimSpace(pair)
		if pair == "" {
			continue
		}
		typ, lane, ok := strings.Cut(pair, "=")
		typ, lane = strings.TrimSpace(typ), strings.TrimSpace(lane)
		switch {
		case !ok || typ == "" || lane == "":
			return nil, fmt.Errorf("route %q: want type=lane", pair)
		case !slices.Contains(lanes, lane):
			return nil, fmt.Errorf("route %q: unknown lane %q (lanes: %s)", pair, lane, strings.Join(lanes, ", "))
		}
		if _, dup := routes[typ]; dup {
			return nil, fmt.Errorf("route %q: job type %q routed twice", pair, typ)
		}
		routes[typ] = lane
	}
	return routes, nil
}

// Merge returns a copy of r with the routes of overrides added or
// replacing r's.
func (r Routes) Merge(overrides Routes) Routes {
	out := maps.Clone(r)
	if out == nil {
		out = Routes{}
	}
	maps.Copy(out, overrides)
	return out
}

// Lane returns the lane of jobs of type jobType.
func (r Routes) Lane(jobType string) string {
	if lane, ok := r[jobType]; ok {
		return lane
	}
	return LaneDefault
}

// Router sends each job to the queue of its type's lane, through one
// Producer per lane. It has Send and SendBatch as a Producer does, and is
// safe for concurrent use.
type Router struct {
	lanes  map[string]*Producer
	routes Routes
}

// NewRouter returns a Router that sends by routes through lanes, a
// Producer per lane name. Every lane that routes name, and LaneDefault,
// must have a Producer.
func NewRouter(lanes map[string]*Producer, routes Routes) (*Router, error) {
	targets := append(slices.Collect(maps.Values(routes)), LaneDefault)
	for _, lane := range targets {
		if lanes[lane] == nil {
			return nil, fmt.Errorf("producer: no queue for lane %q (have: %s)", lane, strings.Join(slices.Sorted(maps.Keys(lanes)), ", "))
		}
	}
	return &Router{lanes: maps.Clone(lanes), routes: maps.Clone(routes)}, nil
}

// Lane returns the lane that jobs of type jobType are sent to.
func (r *Router) Lane(jobType string) string { return r.routes.Lane(jobType) }

// Send sends job as the Producer of its lane does (see Producer.Send).
func (r *Router) Send(ctx context.Context, job jobs.Job, opts ...SendOption) (string, error) {
	return r.lanes[r.Lane(job.Type())].Send(ctx, job, opts...)
}

// SendBatch sends js as Producer.SendBatch does, each job to its lane, the
// lanes in parallel. Results are in the order of js.
func (r *Router) SendBatch(ctx context.Context, js []jobs.Job, opts ...SendOption) ([]Result, error) {
	if err := collectSendOptions(opts).checkBatch(len(js)); err != nil {
		return failAll(len(js), err)
	}
	byLane := map[string][]int{} // lane → indices in js
	for i, job := range js {
		lane := r.Lane(job.Type())
		byLane[lane] = append(byLane[lane], i)
	}
	if len(byLane) == 1 {
		for lane := range byLane {
			return r.lanes[lane].SendBatch(ctx, js, opts...)
		}
	}
	results := make([]Result, len(js))
	var wg sync.WaitGroup
	for lane, at := range byLane {
		wg.Go(func() {
			part := make([]jobs.Job, len(at))
			for k, i := range at {
				part[k] = js[i]
			}
			got, _ := r.lanes[lane].SendBatch(ctx, part, opts...) // its errors are in got
			for k, i := range at {
				results[i] = got[k]
			}
		})
	}
	wg.Wait()
	return results, batchError(results)
}
