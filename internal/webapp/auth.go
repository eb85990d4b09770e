package webapp

import (
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"

	"github.com/busywork/busywork/ddb"
	"github.com/busywork/busywork/jobs"
	"github.com/busywork/busywork/producer"
)

// answer is the JSON body of POST /auth/magic-link's replies.
type answer struct {
	Message string `json:"message,omitempty"`
	Error   string `json:"error,omitempty"`
}

// requestLink enqueues a magic_link job for the posted address. It does
// not look the user up: the only AWS call is the SQS send.
func (a *app) requestLink(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
	asJSON := isJSON(r)
	reply := func(code int, msg string) {
		if asJSON {
			ans := answer{Message: msg}
			if code >= 400 {
				ans = answer{Error: msg}
			}
			a.writeJSON(w, code, ans)
			return
		}
		title := "Check your email"
		if code >= 400 {
			title = "Something went wrong"
		}
		a.writePage(w, code, page{Title: title, Message: msg, Form: code == http.StatusBadRequest})
	}

	email, err := postedEmail(r, asJSON)
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		reply(http.StatusRequestEntityTooLarge, fmt.Sprintf("the request body is over %d bytes", MaxBodyBytes))
		return
	case err != nil:
		reply(http.StatusBadRequest, err.Error())
		return
	}
	job := jobs.MagicLink{Email: jobs.NormalizeEmail(email)}
	if err := job.Validate(); err != nil {
		reply(http.StatusBadRequest, err.Error())
		return
	}
	if _, err := a.sender.Send(r.Context(), job); err != nil {
		if errors.Is(err, producer.ErrInvalidJob) {
			reply(http.StatusBadRequest, err.Error())
			return
		}
		a.log.Warn("enqueue magic_link job", "error", err)
		w.Header().Set("Retry-After", "1")
		reply(http.StatusServiceUnavailable, msgUnavailable)
		return
	}
	reply(http.StatusAccepted, msgAccepted)
}

// isJSON reports whether r's body is JSON.
func isJSON(r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == "application/json"
}

// postedEmail returns the email of a JSON body {"email": ...} or of the
// form field email.
func postedEmail(r *http.Request, asJSON bool) (string, error) {
	if !asJSON {
		if err := r.ParseForm(); err != nil {
			return "", fmt.Errorf("form: %w", err)
		}
		return r.PostForm.Get("email"), nil
	}
	var body struct {
		Email string `json:"email"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		return "", fmt.Errorf("JSON body: %w", err)
	}
	return body.Email, nil
}

// verify spends the link's token and starts a session.
func (a *app) verify(w http.ResponseWriter, r *http.Request) {
	// The token is in the URL: keep it out of caches and Referer headers.
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")

	email, err := a.store.ConsumeToken(r.Context(), r.URL.Query().Get("token"), a.now())
	if errors.Is(err, ddb.ErrInvalidToken) {
		a.writePage(w, http.StatusUnauthorized, page{Title: "Link not valid", Message: msgBadToken, Form: true})
		return
	}
	if err != nil {
		a.unavailable(w, "consume token", err)
		return
	}
	id, err := a.store.CreateSession(r.Context(), email, a.sessionTTL)
	if err != nil {
		// The token is spent; the user asks for a new link.
		a.unavailable(w, "create session", err)
		return
	}
	http.SetCookie(w, sessionCookie(id, a.sessionTTL, a.secureCookies))
	a.writePage(w, http.StatusOK, page{Title: "Signed in", Email: email})
}

// unavailable logs a failed AWS call and answers 503 with Retry-After.
func (a *app) unavailable(w http.ResponseWriter, op string, err error) {
	a.log.Error(op, "error", err)
	w.Header().Set("Retry-After", "1")
	a.writePage(w, http.StatusServiceUnavailable, page{Title: "Something went wrong", Message: msgUnavailable})
}
