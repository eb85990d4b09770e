package console

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"

	"github.com/busywork/busywork/ddb"
	"github.com/busywork/busywork/groups"
	"github.com/busywork/busywork/internal/dlq"
	"github.com/busywork/busywork/jobs"
)

// groupView is a fan-out group as the page shows it; every string that a
// job wrote is escaped (dlq.Escaped).
type groupView struct {
	ID             string        `json:"id"`
	Kind           string        `json:"kind,omitempty"`
	Title          string        `json:"title,omitempty"`
	Total          int           `json:"total"`
	Done           int           `json:"done"`
	Complete       bool          `json:"complete"`
	Failed         []failedChild `json:"failed"`
	FollowUpType   string        `json:"follow_up_type,omitempty"`
	CreatedAt      int64         `json:"created_at"`
	CompletedAt    int64         `json:"completed_at,omitempty"`
	FollowUpSentAt int64         `json:"follow_up_sent_at,omitempty"`
	FollowUpRanAt  int64         `json:"follow_up_ran_at,omitempty"`
	Stall          *stallView    `json:"stall,omitempty"`
	Action         string        `json:"action,omitempty"`
	Repairable     bool          `json:"repairable"` // complete, its follow-up not run: Repair enqueues it
}

type failedChild struct {
	Child  int    `json:"child"`
	Reason string `json:"reason"`
}

type stallView struct {
	Children       []int  `json:"children,omitempty"`
	FollowUpFailed bool   `json:"follow_up_failed,omitempty"`
	Reason         string `json:"reason"`
	Since          int64  `json:"since"`
}

// groupOf returns b as the page shows it, with what Config.Describe says
// of it.
func (s *Server) groupOf(ctx context.Context, b ddb.Batch) groupView {
	v := groupView{
		ID: b.ID, Total: b.Total, Done: len(b.Done), Complete: b.Complete(), Failed: []failedChild{},
		CreatedAt: unixMS(b.CreatedAt), CompletedAt: unixMS(b.CompletedAt), FollowUpSentAt: unixMS(b.FollowUpSentAt),
		FollowUpRanAt: unixMS(b.DispatchedAt), Repairable: b.Complete() && !b.Dispatched(),
	}
	for _, n := range slices.Sorted(maps.Keys(b.Failed)) {
		v.Failed = append(v.Failed, failedChild{Child: n, Reason: dlq.Escaped(b.Failed[n])})
	}
	if b.FollowUp != nil {
		v.FollowUpType = dlq.Escaped(b.FollowUp.Type)
	}
	if st := b.Stall; st != nil {
		v.Stall = &stallView{Children: st.Children, FollowUpFailed: st.FollowUp, Reason: dlq.Escaped(st.Reason), Since: unixMS(st.At)}
	}
	if s.cfg.Describe != nil {
		note, err := s.cfg.Describe(ctx, b)
		if err != nil {
			s.log.Warn("console: describe a group", "group_id", b.ID, "error", err)
		}
		v.Kind, v.Title, v.Action = dlq.Escaped(note.Kind), dlq.Escaped(note.Title), dlq.Escaped(note.Action)
	}
	return v
}

// groupID returns the group id the request's path names, or writes 400
// or 404.
func (s *Server) groupID(w http.ResponseWriter, r *http.Request) (string, bool) {
	if s.cfg.Groups == nil {
		writeError(w, http.StatusNotFound, "this console shows no groups")
		return "", false
	}
	id := r.PathValue("id")
	if err := jobs.ValidateGroupID(id); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return "", false
	}
	return id, true
}

// groupError writes the error of reading group id.
func groupError(w http.ResponseWriter, id string, err error) {
	if errors.Is(err, ddb.ErrNotFound) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no group %s (a group shows once its start has run; groups expire after their TTL)", id))
		return
	}
	writeError(w, http.StatusBadGateway, err.Error())
}

func (s *Server) getGroup(w http.ResponseWriter, r *http.Request) {
	id, ok := s.groupID(w, r)
	if !ok {
		return
	}
	b, err := s.cfg.Groups.Status(r.Context(), id)
	if err != nil {
		groupError(w, id, err)
		return
	}
	writeJSON(w, http.StatusOK, s.groupOf(r.Context(), b))
}

// postRepair enqueues a stalled group's follow-up again
// (groups.Groups.Repair): it runs once however often it is enqueued.
func (s *Server) postRepair(w http.ResponseWriter, r *http.Request) {
	id, ok := s.groupID(w, r)
	if !ok {
		return
	}
	if err := readJSON(r, &struct{}{}); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	rep, err := s.cfg.Groups.Repair(r.Context(), id)
	if err != nil && rep.Group.ID == "" {
		groupError(w, id, err)
		return
	}
	msg := repairMessage(rep)
	if err != nil {
		msg = "The repair failed: " + dlq.Escaped(err.Error())
	}
	s.log.Info("console: repair", "group_id", id, "follow_up_sent", rep.FollowUpSent, "error", err)
	writeJSON(w, http.StatusOK, map[string]any{"message": msg, "group": s.groupOf(r.Context(), rep.Group)})
}

func repairMessage(r groups.Repaired) string {
	b := r.Group
	switch {
	case b.Dispatched():
		return "Its follow-up ran already; nothing to do."
	case r.FollowUpSent:
		return fmt.Sprintf("Every child is done: enqueued its follow-up (%s job %s). It runs once, also if another copy is on its way.",
			dlq.Escaped(b.FollowUp.Type), groups.FollowUpID(b.ID))
	case len(b.Failed) > 0:
		return fmt.Sprintf("%d children failed for good; a repair cannot run them again. Fix the cause, then replay their dead letters.", len(b.Failed))
	}
	return fmt.Sprintf("%d of its %d children are still to run and none failed; nothing to repair.", b.Total-len(b.Done), b.Total)
}

// scanRequest is the body of POST /api/groups/scan.
type scanRequest struct {
	Cursor string `json:"cursor"`
}

// postScan reads the next ddb.DefaultScanItems items of the table for
// the groups that want a look. It is a POST because it costs read units.
func (s *Server) postScan(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Groups == nil || s.cfg.Batches == nil {
		writeError(w, http.StatusNotFound, "this console does not search for groups")
		return
	}
	var req scanRequest
	if err := readJSON(r, &req); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	page, err := s.cfg.Batches.ScanBatches(r.Context(), ddb.ScanOptions{Cursor: req.Cursor})
	switch {
	case errors.Is(err, ddb.ErrBadCursor):
		writeError(w, http.StatusBadRequest, err.Error())
		return
	case err != nil:
		writeError(w, http.StatusBadGateway, err.Error())
		return
	}
	views := make([]groupView, len(page.Batches))
	for i, b := range page.Batches {
		views[i] = s.groupOf(r.Context(), b)
	}
	writeJSON(w, http.StatusOK, map[string]any{"groups": views, "scanned": page.Scanned, "next": page.Next})
}
