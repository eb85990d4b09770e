package console

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/busywork/busywork/internal/dlq"
)

// busyWait is how long a read waits for the lane's dead-letter queue
// while something else receives from it.
const busyWait = 2 * time.Second

// acquire takes the lane's dead-letter queue for what, waiting up to
// wait, or until ctx ends; it reports whether it got it.
func (l *lane) acquire(ctx context.Context, wait time.Duration, what string) bool {
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case l.busy <- struct{}{}:
		l.mu.Lock()
		l.holder = what
		l.mu.Unlock()
		return true
	case <-t.C:
	case <-ctx.Done():
	}
	return false
}

func (l *lane) release() {
	l.mu.Lock()
	l.holder = ""
	l.mu.Unlock()
	<-l.busy
}

// busyWith says what holds the lane's dead-letter queue.
func (l *lane) busyWith() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return cmp.Or(l.holder, "another read")
}

// deadLettersView is GET /api/lanes/{lane}/dead-letters's answer: the
// last count of the lane's dead letters.
type deadLettersView struct {
	Lane       string    `json:"lane"`
	DLQ        string    `json:"dlq"`
	Queue      string    `json:"queue"`
	CountedAt  int64     `json:"counted_at"` // Unix ms
	Messages   int       `json:"messages"`
	Reported   int       `json:"reported"`
	RetentionS int64     `json:"retention_s"`
	Oldest     int64     `json:"oldest,omitempty"` // Unix ms
	Unreleased int       `json:"unreleased,omitempty"`
	Rows       []rowView `json:"rows"`
	// Busy, when set, says why this count is not fresh: what held the
	// dead-letter queue.
	Busy string `json:"busy,omitempty"`
}

// rowView is one row of dead letters: Type and Error are the row's
// filter as given; their Shown forms escape what a person should see
// escaped (control and bidi characters).
type rowView struct {
	Type       string `json:"type"`
	Error      string `json:"error"`
	TypeShown  string `json:"type_shown"`
	ErrorShown string `json:"error_shown"`
	N          int    `json:"n"`
	Oldest     int64  `json:"oldest,omitempty"` // Unix ms
}

func newDeadLettersView(l *lane, st *dlq.Stats) *deadLettersView {
	v := &deadLettersView{Lane: l.Name, DLQ: st.DeadLetterQueue, Queue: st.Queue, CountedAt: st.At.UnixMilli(), Messages: st.Messages,
		Reported: st.Reported, RetentionS: int64(st.Retention.Seconds()), Oldest: unixMS(st.Oldest), Unreleased: st.Unreleased,
		Rows: make([]rowView, len(st.Rows))}
	for i, r := range st.Rows {
		v.Rows[i] = rowView{Type: r.Type, Error: r.Error, TypeShown: dlq.Escaped(r.Type), ErrorShown: dlq.Escaped(r.Error), N: r.N, Oldest: unixMS(r.Oldest)}
	}
	return v
}

func unixMS(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// getDeadLetters answers the lane's last count of dead letters, counting
// them first when there is none or ?recount=1 asks; while a replay or
// purge holds the dead-letter queue it answers the last count, marked
// busy (409 when there is none).
func (s *Server) getDeadLetters(w http.ResponseWriter, r *http.Request) {
	l := s.laneOf(w, r)
	if l == nil {
		return
	}
	l.mu.Lock()
	st := l.stats
	l.mu.Unlock()
	if st != nil && r.URL.Query().Get("recount") != "1" {
		writeJSON(w, http.StatusOK, newDeadLettersView(l, st))
		return
	}
	if !l.acquire(r.Context(), busyWait, "a count") {
		busy := "busy: " + l.busyWith() + " holds the dead-letter queue; it is counted again when that ends"
		if st == nil {
			writeError(w, http.StatusConflict, busy)
			return
		}
		v := newDeadLettersView(l, st)
		v.Busy = busy
		writeJSON(w, http.StatusOK, v)
		return
	}
	defer l.release()
	st, err := l.Queue.Stats(r.Context())
	if err != nil {
		s.log.Warn("console: count dead letters", "lane", l.Name, "error", err)
		writeError(w, http.StatusBadGateway, "count the dead letters: "+err.Error())
		return
	}
	l.mu.Lock()
	l.stats = st
	l.mu.Unlock()
	writeJSON(w, http.StatusOK, newDeadLettersView(l, st))
}

// maxPeek bounds how many letters GET /api/lanes/{lane}/letters shows.
const maxPeek = 20

// letterView is one dead letter as the page shows it, every string
// escaped (dlq.Escaped), the body indented when it is JSON.
type letterView struct {
	JobID        string `json:"job_id"`
	Type         string `json:"type"`
	Error        string `json:"error"`
	FailedAt     string `json:"failed_at"`
	ReceiveCount int    `json:"receive_count"`
	SentAt       int64  `json:"sent_at"` // Unix ms
	Body         string `json:"body"`
}

// getLetters answers a few letters of one row (?type=&error=, the row's
// filter; ?max=, default 5), read and released at once.
func (s *Server) getLetters(w http.ResponseWriter, r *http.Request) {
	l := s.laneOf(w, r)
	if l == nil {
		return
	}
	q := r.URL.Query()
	max, err := strconv.Atoi(cmp.Or(q.Get("max"), "5"))
	if err != nil || max < 1 || max > maxPeek {
		writeError(w, http.StatusBadRequest, "max: want 1 to "+strconv.Itoa(maxPeek))
		return
	}
	if !l.acquire(r.Context(), busyWait, "a read of a few letters") {
		writeError(w, http.StatusConflict, "busy: "+l.busyWith()+" holds the dead-letter queue; try again when it ends")
		return
	}
	defer l.release()
	letters, err := l.Queue.Peek(r.Context(), dlq.PeekOptions{Max: max, Filter: dlq.Filter{Type: q.Get("type"), Group: q.Get("error")}})
	if err != nil {
		writeError(w, http.StatusBadGateway, "read the dead letters: "+err.Error())
		return
	}
	views := make([]letterView, len(letters))
	for i, lt := range letters {
		views[i] = letterView{JobID: dlq.Escaped(lt.JobID), Type: dlq.Escaped(cmp.Or(lt.Type, dlq.NoType)), Error: dlq.Escaped(lt.Error),
			FailedAt: dlq.Escaped(lt.FailedAt), ReceiveCount: lt.ReceiveCount, SentAt: unixMS(lt.SentAt), Body: shownBody(lt.Body)}
	}
	writeJSON(w, http.StatusOK, map[string]any{"letters": views})
}

// shownBody returns a body to show: indented when it is JSON, with every
// line escaped (dlq.Escaped).
func shownBody(body string) string {
	var buf bytes.Buffer
	if json.Indent(&buf, []byte(body), "", "  ") == nil {
		body = buf.String()
	}
	lines := strings.Split(body, "\n")
	for i, line := range lines {
		lines[i] = dlq.Escaped(line)
	}
	return strings.Join(lines, "\n")
}
