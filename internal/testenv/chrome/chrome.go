// Package chrome starts a headless Chromium for browser tests: Debian's
// chromium package (apt-get install chromium), or the browser
// BUSYWORK_CHROMIUM names, driven with chromedp.
//
//	browser := chrome.New(t)                    // skips, or fails under CI, without a browser
//	tab, cancel := chromedp.NewContext(browser) // a tab
//	defer cancel()
//	err := chromedp.Run(tab, chromedp.Navigate(chrome.Local(t, url)), ...)
//
// Without a browser a plain `go test` skips the test, while under CI or
// `make test` (CI or BUSYWORK_INTEGRATION set) it fails, naming what to
// install, so a browser test never passes by not running.
//
// The browser reaches nothing but this machine: its host resolver
// resolves no name but 127.0.0.1, and its background networking
// (component updates, safe browsing, metrics, sync, translation) is off.
// Local refuses a URL whose host is not 127.0.0.1.
package chrome

import (
	"context"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// EnvChromium names a browser to use instead of looking for chromium.
const EnvChromium = "BUSYWORK_CHROMIUM"

// candidates are where Chromium is looked for, in order: Debian's binary
// itself (not its /usr/bin/chromium launcher, which sources
// /etc/chromium.d and so turns Google's API keys and extensions on), then
// the names on PATH.
var candidates = []string{"/usr/lib/chromium/chromium", "chromium", "chromium-browser", "google-chrome-stable"}

// Path returns the browser's path: BUSYWORK_CHROMIUM, or the first of the
// usual places that holds one; "" when there is none.
func Path() string {
	if p := os.Getenv(EnvChromium); p != "" {
		return p
	}
	for _, c := range candidates {
		if p, err := exec.LookPath(c); err == nil {
			return p
		}
	}
	return ""
}

// Require skips the test when there is no browser, or fails it when CI
// or BUSYWORK_INTEGRATION is set, and returns the browser's path.
func Require(t testing.TB) string {
	t.Helper()
	p := Path()
	if p == "" {
		msg := "no Chromium for the browser tests: install it (Debian: apt-get install chromium) or set " + EnvChromium + " to a Chrome or Chromium binary"
		if os.Getenv("CI") != "" || os.Getenv("BUSYWORK_INTEGRATION") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return p
}

// New starts a headless browser for the test and returns its context,
// for chromedp.NewContext (a tab each) or chromedp.Run (the first tab).
// The test's end closes it.
//
// A browser that crashes as it starts (seen once in many runs of `make
// test`, its crash handler writing a dump, cause not yet known) is logged
// with the dumps it left and started once more; a second failure fails
// the test.
func New(t testing.TB) context.Context {
	t.Helper()
	path := Require(t)
	browser, err := start(t, path)
	if err != nil {
		t.Logf("start %s: %v; starting it once more", path, err)
		if browser, err = start(t, path); err != nil {
			t.Fatalf("start %s, twice: %v", path, err)
		}
	}
	return browser
}

// start starts the browser at path with a profile folder of its own. On
// an error it keeps the crash dumps the browser left there and names them.
func start(t testing.TB, path string) (context.Context, error) {
	profile := t.TempDir()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1280, 900),
		// Nothing but this machine: no name resolves but 127.0.0.1.
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-domain-reliability", true),
		chromedp.Flag("disable-crash-reporter", true),
		chromedp.Flag("no-pings", true),
		chromedp.Flag("no-service-autorun", true),
		chromedp.Flag("disable-features", "Translate,BlinkGenPropertyTrees,OptimizationHints,MediaRouter,"+
			"AutofillServerCommunication,CertificateTransparencyComponentUpdater,InterestFeedContentSuggestions"),
	)
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox) // Chromium's sandbox does not run as root
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	browser, cancel := chromedp.NewContext(alloc)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	if err := chromedp.Do(browser); err != nil { // start it now, so a broken browser fails here
		// The profile folder goes with the test: its dumps are kept in
		// the system's temporary folder, to be read after.
		var dumps []string
		_ = filepath.WalkDir(profile, func(p string, d fs.DirEntry, err error) error {
			if err == nil && strings.HasSuffix(p, ".dmp") {
				kept := filepath.Join(os.TempDir(), "chromium-"+filepath.Base(p))
				if os.Rename(p, kept) == nil {
					dumps = append(dumps, kept)
				}
			}
			return nil
		})
		return nil, fmt.Errorf("%w (crash dumps kept: %q)", err, dumps)
	}
	return browser, nil
}

// Local returns u, failing the test unless it is an http URL on
// 127.0.0.1: browser tests load only pages of this machine.
func Local(t testing.TB, u string) string {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil || p.Scheme != "http" || p.Hostname() != "127.0.0.1" {
		t.Fatalf("browser tests load only http://127.0.0.1 pages, not %q", u)
	}
	return u
}
