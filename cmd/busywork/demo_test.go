package main_test

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/busywork/busywork/internal/testenv"
	"github.com/busywork/busywork/internal/testenv/chrome"
)

// styled is true on a page that has its stylesheet (the background and
// the type of package style's base.css, not the browser's white and
// Times) and holds no inline script or style: every script a file of the
// app's, no event handler or style attribute.
const styled = `getComputedStyle(document.body).backgroundColor === 'rgb(245, 246, 248)' &&
	getComputedStyle(document.body).fontFamily.startsWith('system-ui') &&
	[...document.scripts].every(s => s.src.startsWith(location.origin + '/static/') && s.text.trim() === '') &&
	![...document.querySelectorAll('*')].some(e => [...e.attributes].some(a => a.name.startsWith('on') || a.name === 'style'))`

// orderOn places an order of n tickets for event from tab's home page
// (signed in) and returns once the "Order placed" page shows it.
func orderOn(t *testing.T, tab *chrome.Tab, base, event string, n int) {
	t.Helper()
	tab.Open(t, base+"/")
	tab.Await(t, "the order form", `!!document.querySelector('form[action="/orders"]')`)
	tab.Do(t, chromedp.SendKeys("#event", event), chromedp.SetValue("#tickets", fmt.Sprint(n)),
		chromedp.Click(`form[action="/orders"] button`))
	tab.Await(t, "the order placed page", fmt.Sprintf(`document.querySelector('.order h2')?.textContent === %q`, event))
}

// emailed waits until tab's order page says its n tickets were emailed,
// and checks its bar is full.
func emailed(t *testing.T, tab *chrome.Tab, n int) {
	t.Helper()
	tab.Await(t, "the tickets emailed", `document.getElementById('progress').textContent.includes('emailed at')`)
	if got := tab.Text(t, "#progress"); !strings.HasPrefix(got, fmt.Sprintf("All %d tickets made; emailed at ", n)) {
		t.Errorf("on the %s the order says %q, want all %d tickets made and the time they were emailed", tab.Screen.Name, got, n)
	}
	full := fmt.Sprintf(`(b => b.value === %d && b.max === %d && b.classList.contains('done'))(document.getElementById('progress-bar'))`, n, n)
	tab.Await(t, "a full bar", full)
}

// TestDemo_InChromium walks the demo as a newcomer would, in a browser at
// a laptop's and a phone's size: the signed-out home page, a sign-in link
// asked for and followed, the order form, and an order whose bar waits
// for the worker, fills as it makes the tickets and says when they were
// mailed. Every page is styled by the app's own stylesheet, reads on
// both screens and runs no inline script (the screenshots are kept with
// BUSYWORK_SCREENSHOTS=docs/screenshots).
func TestDemo_InChromium(t *testing.T) {
	testenv.Require(t)
	browser := chrome.New(t)
	email := strings.ToLower(testenv.UniqueName(t, "ada", 12)) + "@example.com" // ada-1a2b3c4d@: as short as a person's
	table := testenv.NewTable(t, testenv.DynamoDB(t))
	env := append(workerEnv(newLanes(t, testenv.QueueOptions{})), "BUSYWORK_TABLE="+table, "BUSYWORK_WEB_ADDR=127.0.0.1:0")
	if r := runBusywork(t, env, "user", "add", "--name", "Ada", email); r.code != 0 {
		t.Fatalf("user add: exit %d, stderr:\n%s", r.code, r.stderr)
	}
	web := startBusywork(t, env, "web")
	worker := startWorker(t, env)
	base := "http://" + web.Await(t, "the web listener", func(l testenv.LogLine) bool { return l["msg"] == "web listening" })["addr"].(string)
	laptop, phone := chrome.NewTab(t, browser, chrome.Laptop), chrome.NewTab(t, browser, chrome.Phone)
	look := func(tab *chrome.Tab, name string) {
		t.Helper()
		tab.Await(t, "the page styled, without inline script", styled)
		tab.Screenshot(t, name)
	}

	for _, tab := range []*chrome.Tab{laptop, phone} {
		tab.Open(t, base+"/")
		tab.Await(t, "the sign-in form", `!!document.querySelector('#sign-in form')`)
		look(tab, "demo-home")
	}

	// The laptop asks for a link; the phone follows it and signs in (the
	// tabs share the browser's cookies, so both are signed in after).
	since := time.Now().Add(-time.Second)
	laptop.Do(t, chromedp.SendKeys("#email", email), chromedp.Click("#sign-in button"))
	laptop.Await(t, "the answer", `document.querySelector('h1')?.textContent === 'Check your email'`)
	look(laptop, "demo-check-your-email")
	phone.Open(t, base+"/auth/verify?token="+awaitToken(t, since, email))
	phone.Await(t, "the confirm page", `document.querySelector('.lead')?.textContent === 'Sign in as ' + `+fmt.Sprintf("%q", email)+` + '?'`)
	look(phone, "demo-confirm")
	phone.Do(t, chromedp.Click(`form[action="/auth/verify"] button`))
	phone.Await(t, "the order form", `!!document.querySelector('form[action="/orders"]')`)
	look(phone, "demo-signed-in")
	laptop.Open(t, base+"/")
	laptop.Await(t, "the order form", `!!document.querySelector('form[action="/orders"]')`)
	look(laptop, "demo-signed-in")

	// With no worker running, an order waits: its bar shows no progress
	// (indeterminate) and says so.
	if err := worker.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := worker.Wait(t, stopHang); code != 0 {
		t.Fatalf("worker exited %d after SIGTERM; log:\n%s", code, worker.Text())
	}
	orderOn(t, laptop, base, "Gophercon", 12)
	laptop.Await(t, "the page polling for the order", `performance.getEntriesByType('resource').some(e => e.name.includes('/orders/'))`)
	if got := laptop.Text(t, "#progress"); got != "Waiting for the worker…" {
		t.Errorf("the order without a worker says %q, want it waiting for the worker", got)
	}
	if ok, err := chromedp.Run(laptop, chromedp.Evaluate[bool](`!document.getElementById('progress-bar').hasAttribute('value')`)); err != nil || !ok {
		t.Errorf("the bar of an order nobody works on shows progress (%v)", err)
	}
	look(laptop, "demo-order-waiting")
	laptop.Do(t, chromedp.Evaluate[chromedp.Void](`window.__values = [];
		new MutationObserver(() => window.__values.push(document.getElementById('progress-bar').value))
			.observe(document.getElementById('progress-bar'), {attributes: true, attributeFilter: ['value']})`))

	// A worker starts: the bar fills, never going back, and the page says
	// when the tickets were mailed.
	startWorker(t, env)
	emailed(t, laptop, 12)
	values, err := chromedp.Run(laptop, chromedp.Evaluate[[]float64](`window.__values`))
	if err != nil || len(values) == 0 || !slices.IsSorted(values) || values[len(values)-1] != 12 {
		t.Errorf("the bar's values as the tickets were made: %v (%v), want them rising to 12", values, err)
	}
	look(laptop, "demo-order")

	orderOn(t, phone, base, "GopherCon EU", 3)
	emailed(t, phone, 3)
	look(phone, "demo-order")

	// The two orders' tickets went to the signed-in address.
	got := map[string]int{}
	for _, m := range testenv.Mails(t, since) {
		if slices.Contains(m.Destination.To, email) && len(m.Attachments) > 0 {
			got[m.Subject] += len(m.Attachments)
		}
	}
	if want := map[string]int{"Your tickets for Gophercon": 12, "Your tickets for GopherCon EU": 3}; !maps.Equal(got, want) {
		t.Errorf("tickets mailed to %s by subject: %v, want %v", email, got, want)
	}
}
