package webapp

import (
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"

	"github.com/busywork/busywork/ddb"
	"github.com/busywork/busywork/demo"
	"github.com/busywork/busywork/producer"
)

// answer is the JSON body of POST /auth/magic-link's replies.
type answer struct {
	Message string `json:"message,omitempty"`
	Error   string `json:"error,omitempty"`
}

// requestLink enqueues a magic_link job for the posted address. It does
// not look the user up: the only AWS call is the SQS send. A client over
// the login throttle gets 429 before its body is read.
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
	if wait := a.throttle.wait(clientOf(r, a.trustForward)); wait > 0 {
		w.Header().Set("Retry-After", retryAfter(wait))
		reply(http.StatusTooManyRequests, msgTooMany)
		return
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
	job := demo.MagicLink{Email: ddb.NormalizeEmail(email)}
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

// confirm answers the mailed link (GET /auth/verify?token=...) with a
// page that asks the user to sign in: a form that posts the token to
// POST /auth/verify. Opening the link spends nothing, so the mail
// scanners that open links first do not use it up, and the page names
// the account, so a link someone else sent signs nobody in unawares.
func (a *app) confirm(w http.ResponseWriter, r *http.Request) {
	keepTokenPrivate(w)
	token := r.URL.Query().Get("token")
	email, err := a.store.PeekToken(r.Context(), token, a.now())
	if errors.Is(err, ddb.ErrInvalidToken) {
		a.invalidLink(w)
		return
	}
	if err != nil {
		a.unavailable(w, "read token", err)
		return
	}
	a.writePage(w, http.StatusOK, page{Title: "Sign in", Confirm: &confirmForm{Token: token, Email: email}})
}

// verify spends the posted token (the form of the confirm page) and starts
// a session: it sets the session cookie and redirects to /.
func (a *app) verify(w http.ResponseWriter, r *http.Request) {
	keepTokenPrivate(w)
	r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
	if err := r.ParseForm(); err != nil {
		a.writePage(w, http.StatusBadRequest, page{Title: "Link not valid", Message: "form: " + err.Error(), Form: true})
		return
	}
	email, err := a.store.ConsumeToken(r.Context(), r.PostForm.Get("token"), a.now())
	if errors.Is(err, ddb.ErrInvalidToken) {
		a.invalidLink(w)
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
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// signOut deletes the session of the request's cookie, clears the cookie
// and redirects to /.
func (a *app) signOut(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(SessionCookie); err == nil {
		if err := a.store.DeleteSession(r.Context(), c.Value); err != nil {
			a.unavailable(w, "delete session", err)
			return
		}
	}
	http.SetCookie(w, expiredSessionCookie(a.secureCookies))
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

// invalidLink answers a token that is unknown, expired or used.
func (a *app) invalidLink(w http.ResponseWriter) {
	a.writePage(w, http.StatusUnauthorized, page{Title: "Link not valid", Message: msgBadToken, Form: true})
}

// keepTokenPrivate keeps a page that carries a token out of caches and
// its URL out of Referer headers.
func keepTokenPrivate(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
}

// crossOrigin answers a POST that http.CrossOriginProtection refused.
func (a *app) crossOrigin(w http.ResponseWriter, r *http.Request) {
	if isJSON(r) {
		a.writeJSON(w, http.StatusForbidden, answer{Error: msgCrossOrigin})
		return
	}
	a.writePage(w, http.StatusForbidden, page{Title: "Request refused", Message: msgCrossOrigin})
}

// unavailable logs a failed AWS call and answers 503 with Retry-After.
func (a *app) unavailable(w http.ResponseWriter, op string, err error) {
	a.log.Error(op, "error", err)
	w.Header().Set("Retry-After", "1")
	a.writePage(w, http.StatusServiceUnavailable, page{Title: "Something went wrong", Message: msgUnavailable})
}
