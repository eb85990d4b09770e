package webapp

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"html/template"
	"net/http"
	"strconv"

	"github.com/busywork/busywork/ddb"
)

//go:embed templates/page.html.tmpl
var templates embed.FS

var pageTemplate = template.Must(template.ParseFS(templates, "templates/page.html.tmpl"))

// The order page's script (GET /static/order.js) and the pages' own style
// rules (GET /static/app.css, after package style's): files, since the
// pages' Content-Security-Policy runs no inline script or style.
var (
	//go:embed static/order.js
	orderScript []byte
	//go:embed static/app.css
	ownStyle []byte
)

// page is what templates/page.html.tmpl shows.
type page struct {
	Title   string
	Message string
	Problem bool         // Message says what went wrong: set by writePage for a status of 400 or more
	Email   string       // the signed-in user, when set: shown with a sign-out button instead of the login form
	Form    bool         // show the login form, or, to a signed-in user, the order form
	Order   *placedOrder // an order whose progress the page follows
	Confirm *confirmForm // the confirm page of a mailed link
}

// placedOrder is the order the "Order placed" page follows: its progress
// bar fills as the worker makes the tickets (static/order.js polls GET
// /orders/{id}) and says when they were emailed.
type placedOrder struct {
	ID      string
	Event   string
	Tickets int
}

// confirmForm is the confirm page's form: it posts Token to POST
// /auth/verify, signing in as Email.
type confirmForm struct {
	Token string
	Email string
}

// Fixed answers of POST /auth/magic-link. The accepted one says nothing
// about whether the address belongs to a user.
const (
	msgAccepted    = "If an account exists for that address, a sign-in link is on its way."
	msgUnavailable = "We could not take your request just now. Please try again in a moment."
	msgBadToken    = "This sign-in link is invalid, expired or already used. Please request a new one."
	msgTooMany     = "Too many sign-in requests from your network. Please wait a little and try again."
	msgCrossOrigin = "This form was sent from another site, so it was refused. Please use the forms on this site."
)

// writePage renders p with status code.
func (a *app) writePage(w http.ResponseWriter, code int, p page) {
	p.Problem = code >= http.StatusBadRequest
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
	w.WriteHeader(code)
	_, _ = w.Write(body) // a failed write is the client's problem
}

// index shows the login form, or, to a signed-in user, who is signed in
// with a sign-out button and the order form. A session cookie that names
// no live session is cleared.
func (a *app) index(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	email, err := a.signedIn(w, r)
	switch {
	case err != nil:
		a.unavailable(w, "read session", err)
	case email == "":
		a.writePage(w, http.StatusOK, page{Title: "Welcome", Form: true})
	default:
		a.writePage(w, http.StatusOK, page{Title: "Welcome", Email: email, Form: true})
	}
}

// signedIn returns the email of r's session, or "" when r carries no
// session cookie or one that names no live session; such a cookie is
// cleared on w. An error means the session could not be read.
func (a *app) signedIn(w http.ResponseWriter, r *http.Request) (string, error) {
	c, err := r.Cookie(SessionCookie)
	if err != nil {
		return "", nil
	}
	email, err := a.store.GetSession(r.Context(), c.Value, a.now())
	switch {
	case errors.Is(err, ddb.ErrNotFound):
		http.SetCookie(w, expiredSessionCookie(a.secureCookies))
		return "", nil
	case err != nil:
		return "", err
	}
	return email, nil
}

// script serves the order page's script, static/order.js.
func script(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Cache-Control", "public, max-age=300")
	writeBody(w, http.StatusOK, "text/javascript; charset=utf-8", orderScript)
}
