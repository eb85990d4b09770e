package console

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net/http"
	"sync"
	"time"

	"github.com/busywork/busywork/internal/dlq"
)

// Kinds and states of a task.
const (
	kindReplay = "replay"
	kindPurge  = "purge"

	stateWaiting   = "waiting" // for the lane's dead-letter queue
	stateRunning   = "running"
	stateDone      = "done"
	stateFailed    = "failed"
	stateCancelled = "cancelled"
)

// MaxReplayRate is the fastest replay the console starts, in messages a
// second.
const MaxReplayRate = 1000

// keptTasks is how many finished tasks the console remembers.
const keptTasks = 50

// taskWait is how long a task waits for its lane's dead-letter queue
// while a count or a read holds it.
const taskWait = 10 * time.Minute

// task is one replay or purge of one row of a lane's dead letters.
type task struct {
	id, lane, kind string
	queue, dlq     string // the lane's queue's name and its dead-letter queue's
	filter         dlq.Filter
	rate           float64
	expected       int
	cancel         context.CancelFunc

	mu       sync.Mutex
	state    string
	progress dlq.Progress
	started  time.Time
	ended    time.Time
	sum      *dlq.Summary
	err      error
}

// tasks are the console's tasks: they run in goroutines it owns, and end
// with it.
type tasks struct {
	base context.Context
	halt context.CancelFunc
	wg   sync.WaitGroup

	mu      sync.Mutex
	stopped bool
	byID    map[string]*task
	order   []*task // oldest first
}

func newTasks() *tasks {
	base, halt := context.WithCancel(context.Background())
	return &tasks{base: base, halt: halt, byID: map[string]*task{}}
}

// errBusy is start's error when the lane has a task already.
var errBusy = errors.New("a replay or purge of this lane is under way: wait for it to end")

// start runs t with run in a goroutine of its own, unless the lane has a
// task waiting or running, or the console is stopping.
func (ts *tasks) start(t *task, run func(ctx context.Context, t *task)) error {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.stopped {
		return errors.New("the console is stopping")
	}
	for _, o := range ts.order {
		if o.lane == t.lane && o.active() {
			return errBusy
		}
	}
	id := make([]byte, 8)
	_, _ = rand.Read(id) // crypto/rand.Read does not fail
	t.id, t.state = hex.EncodeToString(id), stateWaiting
	ctx, cancel := context.WithCancel(ts.base)
	t.cancel = cancel
	ts.byID[t.id] = t
	ts.order = append(ts.order, t)
	if len(ts.order) > keptTasks {
		for i, o := range ts.order {
			if !o.active() {
				delete(ts.byID, o.id)
				ts.order = append(ts.order[:i], ts.order[i+1:]...)
				break
			}
		}
	}
	ts.wg.Go(func() {
		defer cancel()
		run(ctx, t)
	})
	return nil
}

// stop cancels every task and waits for them; start refuses new ones.
func (ts *tasks) stop() {
	ts.mu.Lock()
	ts.stopped = true
	ts.mu.Unlock()
	ts.halt()
	ts.wg.Wait()
}

func (ts *tasks) get(id string) *task {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.byID[id]
}

// views returns the tasks, newest first.
func (ts *tasks) views() []*taskView {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	vs := make([]*taskView, 0, len(ts.order))
	for i := len(ts.order) - 1; i >= 0; i-- {
		vs = append(vs, ts.order[i].view())
	}
	return vs
}

func (t *task) active() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.state == stateWaiting || t.state == stateRunning
}

// drainRequest is the body of POST /api/lanes/{lane}/replay and purge:
// one row's filter, its count when the page showed it, and for a replay
// its rate.
type drainRequest struct {
	Type     string  `json:"type"`
	Error    string  `json:"error"`
	Rate     float64 `json:"rate"`
	Expected int     `json:"expected"`
}

func (s *Server) postReplay(w http.ResponseWriter, r *http.Request) { s.startDrain(w, r, kindReplay) }
func (s *Server) postPurge(w http.ResponseWriter, r *http.Request)  { s.startDrain(w, r, kindPurge) }

// startDrain starts a replay or purge of one row and answers 202 with the
// task.
func (s *Server) startDrain(w http.ResponseWriter, r *http.Request, kind string) {
	l := s.laneOf(w, r)
	if l == nil {
		return
	}
	var req drainRequest
	if err := readJSON(r, &req); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	switch {
	case req.Type == "" || req.Error == "":
		writeError(w, http.StatusBadRequest, "a "+kind+" names its row: type and error")
		return
	case kind == kindReplay && (!(req.Rate > 0) || req.Rate > MaxReplayRate || math.IsNaN(req.Rate)):
		writeError(w, http.StatusBadRequest, fmt.Sprintf("rate %v: want more than 0 and at most %d messages a second", req.Rate, MaxReplayRate))
		return
	case kind == kindPurge:
		req.Rate = 0
	}
	t := &task{lane: l.Name, kind: kind, queue: l.Queue.Name, dlq: l.Queue.DeadLetterName, filter: dlq.Filter{Type: req.Type, Group: req.Error}, rate: req.Rate, expected: max(req.Expected, 0)}
	if err := s.tasks.start(t, func(ctx context.Context, t *task) { s.drain(ctx, l, t) }); err != nil {
		writeError(w, http.StatusConflict, err.Error())
		return
	}
	s.log.Info("console: "+kind+" started", "lane", l.Name, "task", t.id, "job_type", req.Type, "error_group", req.Error, "rate", req.Rate)
	writeJSON(w, http.StatusAccepted, t.view())
}

// drain runs task t on lane l: it waits for the lane's dead-letter queue,
// replays or purges the row, and counts the dead letters again before it
// lets the queue go, so that the page's rows are fresh when the task
// ends.
func (s *Server) drain(ctx context.Context, l *lane, t *task) {
	if !l.acquire(ctx, taskWait, "a "+t.kind) {
		t.finish(nil, fmt.Errorf("%s holds the dead-letter queue still: %w", l.busyWith(), cmpErr(ctx.Err(), context.DeadlineExceeded)))
		return
	}
	defer l.release()
	t.mu.Lock()
	t.state, t.started = stateRunning, s.cfg.Now()
	t.mu.Unlock()
	progress := func(p dlq.Progress) {
		t.mu.Lock()
		t.progress = p
		t.mu.Unlock()
	}
	var (
		sum *dlq.Summary
		err error
	)
	if t.kind == kindReplay {
		sum, err = l.Queue.Replay(ctx, dlq.ReplayOptions{Filter: t.filter, Rate: t.rate, Progress: progress})
	} else {
		sum, err = l.Queue.Purge(ctx, dlq.PurgeOptions{Filter: t.filter, Progress: progress})
	}
	t.finish(sum, err)
	v := t.view()
	s.log.Info("console: "+t.kind+" ended", "lane", l.Name, "task", t.id, "state", v.State, "matched", v.Matched,
		"moved", v.Moved, "failed", v.Failed, "error", err)
	if ctx.Err() != nil {
		return // cancelled, or the console is stopping: the page recounts when asked
	}
	if st, err := l.Queue.Stats(ctx); err == nil {
		l.mu.Lock()
		l.stats = st
		l.mu.Unlock()
	}
}

func cmpErr(err, fallback error) error {
	if err != nil {
		return err
	}
	return fallback
}

// finish records how t ended.
func (t *task) finish(sum *dlq.Summary, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.sum, t.err, t.ended = sum, err, time.Now()
	if sum != nil {
		t.progress = sum.Progress
	}
	switch {
	case errors.Is(err, context.Canceled):
		t.state = stateCancelled
	case err != nil || (sum != nil && !sum.OK()):
		t.state = stateFailed
	default:
		t.state = stateDone
	}
}

func (s *Server) getTask(w http.ResponseWriter, r *http.Request) {
	t := s.tasks.get(r.PathValue("id"))
	if t == nil {
		writeError(w, http.StatusNotFound, "no such task (the console keeps the last "+fmt.Sprint(keptTasks)+")")
		return
	}
	writeJSON(w, http.StatusOK, t.view())
}

// postCancel cancels a task: it finishes the batch it holds and releases
// the rest.
func (s *Server) postCancel(w http.ResponseWriter, r *http.Request) {
	t := s.tasks.get(r.PathValue("id"))
	if t == nil {
		writeError(w, http.StatusNotFound, "no such task")
		return
	}
	if err := readJSON(r, &struct{}{}); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	t.cancel()
	writeJSON(w, http.StatusOK, t.view())
}
