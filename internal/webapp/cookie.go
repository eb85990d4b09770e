package webapp

import (
	"net/http"
	"time"
)

// SessionCookie is the name of the session cookie. Its value is the
// session id; the table holds only the id's SHA-256.
const SessionCookie = "busywork_session"

// sessionCookie returns the cookie that carries session id for ttl:
// HttpOnly, SameSite=Lax, on the whole site, and Secure when secure.
func sessionCookie(id string, ttl time.Duration, secure bool) *http.Cookie {
	return &http.Cookie{
		Name:     SessionCookie,
		Value:    id,
		Path:     "/",
		MaxAge:   int(ttl / time.Second),
		HttpOnly: true,
		Secure:   secure,
		SameSite: http.SameSiteLaxMode,
	}
}

// expiredSessionCookie returns the cookie that makes a browser delete the
// session cookie.
func expiredSessionCookie(secure bool) *http.Cookie {
	c := sessionCookie("", 0, secure)
	c.MaxAge = -1
	return c
}
