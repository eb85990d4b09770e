package chrome

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// EnvScreenshots names a folder for Tab.Screenshot to keep its PNGs in
// (docs/screenshots, to refresh the docs' pictures); unset, they go to the
// test's temporary folder.
const EnvScreenshots = "BUSYWORK_SCREENSHOTS"

// A Screen is the size of a tab's window in CSS pixels, and whether it
// is a phone's (a mobile viewport with touch, at twice the pixels).
type Screen struct {
	Name          string
	Width, Height int64
	Mobile        bool
}

// The two screens pages are checked on.
var (
	Laptop = Screen{Name: "laptop", Width: 1280, Height: 900}
	Phone  = Screen{Name: "phone", Width: 390, Height: 844, Mobile: true}
)

// Tab is a browser tab at a Screen's size; it is the tab's context for
// chromedp.Run and chromedp.Do. From each page it loads, it records what
// the Content-Security-Policy refused (an inline script or style would
// be) and every uncaught error: see Problems.
type Tab struct {
	context.Context
	Screen Screen
}

// NewTab opens a tab of browser (from New) on screen, blank until
// navigated. The test's end closes it.
func NewTab(t testing.TB, browser context.Context, screen Screen) *Tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(browser)
	t.Cleanup(cancel)
	tab := &Tab{Context: ctx, Screen: screen}
	var opts []chromedp.EmulateViewportOption
	if screen.Mobile {
		opts = append(opts, chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulateScale(2))
	}
	tab.Do(t, chromedp.EmulateViewport(screen.Width, screen.Height, opts...))
	// Before any page's own script runs.
	if _, err := chromedp.Call(tab, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: `
		window.__problems = [];
		document.addEventListener('securitypolicyviolation', (e) => window.__problems.push('CSP refused ' + e.violatedDirective + ': ' + e.blockedURI));
		window.addEventListener('error', (e) => window.__problems.push('error: ' + e.message));
		window.addEventListener('unhandledrejection', (e) => window.__problems.push('unhandled: ' + e.reason));`}); err != nil {
		t.Fatal(err)
	}
	return tab
}

// Do runs actions in the tab, failing the test on an error.
func (tab *Tab) Do(t testing.TB, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(tab, actions...); err != nil {
		t.Fatal(err)
	}
}

// Open loads u, an http://127.0.0.1 page (Local), in the tab.
func (tab *Tab) Open(t testing.TB, u string) {
	t.Helper()
	tab.Do(t, chromedp.Navigate(Local(t, u)))
}

// Await waits until the JavaScript expression is true in the tab, and
// says what it waited for, with the page's text, when it is not within
// 30 s. An expression that fails (the tab is between two pages) is tried
// again.
func (tab *Tab) Await(t testing.TB, what, expr string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ok, err := chromedp.Run(tab, chromedp.Evaluate[bool](`!!(`+expr+`)`))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			text, _ := chromedp.Run(tab, chromedp.Evaluate[string](`document.body ? document.body.innerText : ''`))
			t.Fatalf("waiting on the %s for %s (%s): not within 30s (last error: %v); the page reads:\n%s", tab.Screen.Name, what, expr, err, text)
		}
		time.Sleep(100 * time.Millisecond) // polling the page
	}
}

// Text returns the text of the element sel selects.
func (tab *Tab) Text(t testing.TB, sel string) string {
	t.Helper()
	s, err := chromedp.Run(tab, chromedp.Evaluate[string](fmt.Sprintf(`document.querySelector(%q).textContent`, sel)))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

// Problems returns what the Content-Security-Policy refused, and the
// uncaught errors, since the tab's page loaded.
func (tab *Tab) Problems(t testing.TB) []string {
	t.Helper()
	p, err := chromedp.Run(tab, chromedp.Evaluate[[]string](`window.__problems`))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Screenshot checks that the page reads on the tab's screen, that is,
// it is no wider than the screen (neither scrolled sideways nor zoomed
// out) and had no Problems, and takes a full-page
// screenshot of it, NAME-SCREEN.png in EnvScreenshots's folder or the
// test's own (logged).
func (tab *Tab) Screenshot(t testing.TB, name string) {
	t.Helper()
	where := name + " on the " + tab.Screen.Name
	// A phone's browser zooms out to show a page wider than its screen,
	// and innerWidth grows with it: so the widths are compared with the
	// screen's too.
	w, err := chromedp.Run(tab, chromedp.Evaluate[[2]int64](`[document.documentElement.scrollWidth, window.innerWidth]`))
	if err != nil || w[0] > w[1] || w[0] > tab.Screen.Width || w[1] != tab.Screen.Width {
		t.Errorf("%s: the page is %d px wide, shown %d px wide, on a %d px screen (%v): it scrolls sideways or is zoomed out",
			where, w[0], w[1], tab.Screen.Width, err)
	}
	if p := tab.Problems(t); len(p) > 0 {
		t.Errorf("%s: the page had problems: %q", where, p)
	}
	img, err := chromedp.Run(tab, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if cfg, err := png.DecodeConfig(bytes.NewReader(img)); err != nil || cfg.Width < int(tab.Screen.Width) {
		t.Errorf("%s: the screenshot is %dx%d (%v), want %d wide at least", where, cfg.Width, cfg.Height, err, tab.Screen.Width)
	}
	dir := os.Getenv(EnvScreenshots)
	if dir == "" {
		dir = t.TempDir()
	}
	path := filepath.Join(dir, name+"-"+tab.Screen.Name+".png")
	if err := os.WriteFile(path, img, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %s", where, path)
}
