package webapp

import (
	"bytes"
	"embed"
	"encoding/json"
	"html/template"
	"net/http"
	"strconv"
)

//go:embed templates/page.html.tmpl
var templates embed.FS

var pageTemplate = template.Must(template.ParseFS(templates, "templates/page.html.tmpl"))

// page is what templates/page.html.tmpl shows.
type page struct {
	Title   string
	Message string
	Email   string // the logged-in user, when set
	Form    bool   // show the login and order forms
	OrderID string // an order whose progress the page follows
}

// Fixed answers of POST /auth/magic-link. The accepted one says nothing
// about whether the address belongs to a user.
const (
	msgAccepted    = "If an account exists for that address, a sign-in link is on its way."
	msgUnavailable = "We could not take your request just now. Please try again in a moment."
	msgBadToken    = "This sign-in link is invalid, expired or already used. Please request a new one."
)

// writePage renders p with status code.
func (a *app) writePage(w http.ResponseWriter, code int, p page) {
	var buf bytes.Buffer
	if err := pageTemplate.Execute(&buf, p); err != nil {
		a.log.Error("render page", "error", err)
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return
	}
	writeBody(w, code, "text/html; charset=utf-8", buf.Bytes())
}

// writeJSON writes v as JSON with status code.
func (a *app) writeJSON(w http.ResponseWriter, code int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		a.log.Error("encode JSON answer", "error", err)
		http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
		return
	}
	writeBody(w, code, "application/json", append(body, '\n'))
}

func writeBody(w http.ResponseWriter, code int, contentType string, body []byte) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = w.Write(body) // a failed write is the client's problem
}

func (a *app) index(w http.ResponseWriter, _ *http.Request) {
	a.writePage(w, http.StatusOK, page{Title: "Sign in", Form: true})
}
