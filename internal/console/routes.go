package console

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"strconv"

	"github.com/busywork/busywork/internal/secheaders"
	"github.com/busywork/busywork/internal/style"
)

//go:embed templates/page.html.tmpl
var templates embed.FS

var pageTemplate = template.Must(template.ParseFS(templates, "templates/page.html.tmpl"))

// The page's script and its own style rules (served after package
// style's): files, not inline, which the Content-Security-Policy would
// not run.
//
//go:embed static/console.js
var script []byte

//go:embed static/console.css
var ownStyle []byte

// maxBodyBytes bounds a POST's body.
const maxBodyBytes = 4 << 10

// routes returns the console's handler: the page, its files and the API,
// behind guard and, for the API, protectAPI, with secheaders.Wrap's
// headers on every answer.
func (s *Server) routes() http.Handler {
	api := http.NewServeMux()
	api.HandleFunc("GET /api/lanes", s.getLanes)
	api.HandleFunc("GET /api/lanes/{lane}/dead-letters", s.getDeadLetters)
	api.HandleFunc("GET /api/lanes/{lane}/letters", s.getLetters)
	api.HandleFunc("POST /api/lanes/{lane}/replay", s.postReplay)
	api.HandleFunc("POST /api/lanes/{lane}/purge", s.postPurge)
	api.HandleFunc("GET /api/tasks/{id}", s.getTask)
	api.HandleFunc("POST /api/tasks/{id}/cancel", s.postCancel)
	api.HandleFunc("GET /api/groups/{id}", s.getGroup)
	api.HandleFunc("POST /api/groups/{id}/repair", s.postRepair)
	api.HandleFunc("POST /api/groups/scan", s.postScan)

	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.page)
	mux.HandleFunc("GET /static/console.js", file("text/javascript; charset=utf-8", script))
	mux.Handle("GET /static/console.css", style.Sheet(ownStyle))
	mux.Handle("/api/", s.protectAPI(api))
	return secheaders.Wrap(s.guard(mux))
}

// pageData is what templates/page.html.tmpl shows.
type pageData struct {
	Name       string
	Token      string
	RefreshMS  int64
	Lanes      []string
	Groups     bool // groups can be looked up
	ScanGroups bool // and searched for
}

func (s *Server) page(w http.ResponseWriter, r *http.Request) {
	cookie := pageCookie(w, r)
	d := pageData{Name: s.cfg.Name, Token: s.newToken(cookie, s.cfg.Now()), RefreshMS: s.cfg.Interval.Milliseconds(),
		Groups: s.cfg.Groups != nil, ScanGroups: s.cfg.Groups != nil && s.cfg.Batches != nil}
	for _, l := range s.lanes {
		d.Lanes = append(d.Lanes, l.Name)
	}
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, d); err != nil {
		s.log.Error("console: render the page", "error", err)
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return
	}
	writeBody(w, http.StatusOK, "text/html; charset=utf-8", buf.Bytes())
}

func file(contentType string, body []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) { writeBody(w, http.StatusOK, contentType, body) }
}

func writeBody(w http.ResponseWriter, code int, contentType string, body []byte) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(code)
	_, _ = w.Write(body) // a failed write is the client's problem
}

// writeJSON writes v as JSON with status code.
func writeJSON(w http.ResponseWriter, code int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		code, body = http.StatusInternalServerError, []byte(`{"error":"encode the answer"}`)
	}
	writeBody(w, code, "application/json", append(body, '\n'))
}

// writeError writes {"error": msg} with status code.
func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}

// readJSON decodes r's body, at most maxBodyBytes, into v, refusing
// unknown fields.
func readJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, maxBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("bad JSON body: %w", err)
	}
	if dec.More() {
		return errors.New("bad JSON body: more than one value")
	}
	return nil
}

// laneOf returns the lane the request's path names, or writes 404.
func (s *Server) laneOf(w http.ResponseWriter, r *http.Request) *lane {
	l := s.byName[r.PathValue("lane")]
	if l == nil {
		writeError(w, http.StatusNotFound, fmt.Sprintf("no lane %q", r.PathValue("lane")))
	}
	return l
}

// lanesView is GET /api/lanes's answer.
type lanesView struct {
	At         int64       `json:"at"` // Unix ms
	IntervalMS int64       `json:"interval_ms"`
	HistoryS   int64       `json:"history_s"`
	Lanes      []laneView  `json:"lanes"`
	Tasks      []*taskView `json:"tasks"`
}

func (s *Server) getLanes(w http.ResponseWriter, _ *http.Request) {
	now := s.cfg.Now()
	v := lanesView{At: now.UnixMilli(), IntervalMS: s.cfg.Interval.Milliseconds(), HistoryS: int64(History.Seconds()), Tasks: s.tasks.views()}
	for _, l := range s.lanes {
		v.Lanes = append(v.Lanes, l.view(now))
	}
	writeJSON(w, http.StatusOK, v)
}
