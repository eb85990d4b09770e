package console

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/http"
	"strings"
	"time"
)

const (
	// cookieName is the browser's console cookie, which a page's token
	// is tied to.
	cookieName = "busywork_console"
	// TokenHeader carries a page's token on every POST.
	TokenHeader = "X-Console-Token"
	// TokenTTL is how long a page's token is taken: a page open longer
	// must be reloaded before it changes anything.
	TokenTTL = 12 * time.Hour
	// nonceBytes is the length of a page's nonce and of a cookie's id.
	nonceBytes = 16
)

// LoopbackAddr reports whether a listen address (host:port) is on the
// loopback interface only: an IP on it (127.0.0.1, ::1) or "localhost".
// An empty host, 0.0.0.0 or :: listens on every interface; another name
// is not resolved, so it does not count as loopback either.
func LoopbackAddr(addr string) (bool, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false, fmt.Errorf("not host:port: %w", err)
	}
	return loopbackHost(host), nil
}

func loopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// guard refuses, before h runs, a request whose Host is not a loopback
// name (unless Config.Remote) and one without the password (when
// Config.Password is set), and marks every answer not to be stored.
func (s *Server) guard(h http.Handler) http.Handler {
	want := sha256.Sum256([]byte(s.cfg.Password))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		if !s.cfg.Remote {
			host := r.Host
			if h, _, err := net.SplitHostPort(r.Host); err == nil {
				host = h
			}
			if !loopbackHost(strings.Trim(host, "[]")) {
				http.Error(w, "This console answers only at its loopback address (127.0.0.1, localhost).", http.StatusMisdirectedRequest)
				return
			}
		}
		if s.cfg.Password != "" {
			_, pass, _ := r.BasicAuth()
			got := sha256.Sum256([]byte(pass))
			if subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
				w.Header().Set("WWW-Authenticate", `Basic realm="busywork console", charset="UTF-8"`)
				http.Error(w, "The console's password is needed (BUSYWORK_CONSOLE_PASSWORD).", http.StatusUnauthorized)
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}

// protectAPI lets through h the API's reads from the console's own pages,
// and its POSTs when they are JSON from the console's origin with a
// valid page token.
func (s *Server) protectAPI(h http.Handler) http.Handler {
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusForbidden, "refused: the request came from another site")
	}))
	post := cop.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := s.checkPost(r); err != nil {
			writeError(w, http.StatusForbidden, "refused: "+err.Error())
			return
		}
		h.ServeHTTP(w, r)
	}))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			post.ServeHTTP(w, r)
			return
		}
		// A read answers only the console's own pages: a browser says
		// where a request comes from; a script or curl says nothing.
		if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
			writeError(w, http.StatusForbidden, "refused: the request came from another site")
			return
		}
		h.ServeHTTP(w, r)
	})
}

// checkPost checks a POST's body type and token.
func (s *Server) checkPost(r *http.Request) error {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return errors.New("want a JSON body (Content-Type: application/json)")
	}
	c, err := r.Cookie(cookieName)
	if err != nil {
		return errors.New("no console cookie: reload the page")
	}
	return s.checkToken(r.Header.Get(TokenHeader), c.Value, s.cfg.Now())
}

// newToken returns a token for a page served now to the browser holding
// cookie: a fresh nonce, the time, and their HMAC with the cookie under
// the process's key.
func (s *Server) newToken(cookie string, now time.Time) string {
	msg := make([]byte, nonceBytes+8)
	_, _ = rand.Read(msg[:nonceBytes]) // crypto/rand.Read does not fail
	binary.BigEndian.PutUint64(msg[nonceBytes:], uint64(now.Unix()))
	return base64.RawURLEncoding.EncodeToString(append(msg, s.mac(cookie, msg)...))
}

// checkToken checks that token was made by newToken for cookie, less
// than TokenTTL before now.
func (s *Server) checkToken(token, cookie string, now time.Time) error {
	raw, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(raw) != nonceBytes+8+sha256.Size {
		return errors.New("no valid page token: reload the page")
	}
	msg, sum := raw[:nonceBytes+8], raw[nonceBytes+8:]
	if !hmac.Equal(sum, s.mac(cookie, msg)) {
		return errors.New("the page token is not this console's (it restarted, or the page is another browser's): reload the page")
	}
	issued := time.Unix(int64(binary.BigEndian.Uint64(msg[nonceBytes:])), 0)
	if now.Sub(issued) > TokenTTL || issued.After(now.Add(time.Minute)) {
		return fmt.Errorf("the page is older than %s: reload it", TokenTTL)
	}
	return nil
}

func (s *Server) mac(cookie string, msg []byte) []byte {
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte("busywork console page\x00"))
	m.Write([]byte(cookie))
	m.Write([]byte{0})
	m.Write(msg)
	return m.Sum(nil)
}

// pageCookie returns the browser's console cookie, setting a new one on w
// when it has none: kept, not replaced, so that the pages of other tabs
// keep working.
func pageCookie(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(cookieName); err == nil && len(c.Value) == base64.RawURLEncoding.EncodedLen(nonceBytes) {
		return c.Value
	}
	id := make([]byte, nonceBytes)
	_, _ = rand.Read(id) // crypto/rand.Read does not fail
	v := base64.RawURLEncoding.EncodeToString(id)
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: v, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	return v
}
