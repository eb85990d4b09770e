// Package style is the look busywork's web pages share: base.css, the
// colours (light and dark), type, buttons, fields and progress bars that
// the demo web app and the operator's console both use. Each serves it
// followed by rules of its own as one stylesheet, a file of the binary:
// no CDN, no web font, and no inline style, which the pages'
// Content-Security-Policy (style-src 'self') would refuse.
//
//	//go:embed static/app.css
//	var own []byte
//
//	mux.Handle("GET /static/app.css", style.Sheet(own))
package style

import (
	"bytes"
	_ "embed"
	"net/http"
	"time"
)

//go:embed base.css
var base []byte

// Sheet returns a handler that serves base.css followed by own, as
// text/css, with the conditional and range requests http.ServeContent
// answers; browsers may keep it for five minutes.
func Sheet(own []byte) http.Handler {
	sheet := make([]byte, 0, len(base)+1+len(own))
	sheet = append(append(append(sheet, base...), '\n'), own...)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=300")
		http.ServeContent(w, r, "style.css", time.Time{}, bytes.NewReader(sheet))
	})
}
