// Package secheaders sets the headers that keep a browser safe with what
// busywork serves: the demo web app's pages and the worker's admin
// listener alike.
package secheaders

import "net/http"

// ContentSecurityPolicy is the Content-Security-Policy of every response
// Wrap wraps: nothing loads unless from the app's own origin,
// no inline script or style runs, forms post only to the app, and no
// other site may frame its pages (clickjacking).
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
	"form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// Wrap returns h with the headers a browser needs to be safe
// with what busywork serves, set on every response before h runs (errors,
// 404s and redirects too, and whatever h writes it may only add to):
//
//	Content-Security-Policy    ContentSecurityPolicy
//	X-Content-Type-Options     nosniff: a browser takes Content-Type as given
//	Referrer-Policy            no-referrer: no URL (a token, an order id) leaks to other sites
//	X-Frame-Options            DENY: frame-ancestors for browsers without CSP
//	Cross-Origin-Opener-Policy same-origin
//
// The web app and the worker's admin listener both serve through it.
func Wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hdr := w.Header()
		hdr.Set("Content-Security-Policy", ContentSecurityPolicy)
		hdr.Set("X-Content-Type-Options", "nosniff")
		hdr.Set("Referrer-Policy", "no-referrer")
		hdr.Set("X-Frame-Options", "DENY")
		hdr.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.ServeHTTP(w, r)
	})
}
