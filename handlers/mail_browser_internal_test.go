package handlers

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/chromedp/chromedp"

	"github.com/busywork/busywork/internal/testenv/chrome"
)

// mailLayout is what the browser test measures of a rendered email, in
// CSS pixels.
type mailLayout struct {
	InnerWidth  float64 `json:"innerWidth"`
	InnerHeight float64 `json:"innerHeight"`
	Card        *box    `json:"card"`
	// Button is the "Sign in" link, nil when there is none.
	Button *struct {
		box
		Href string `json:"href"`
		// OnTop is whether the button is what a tap at its centre hits.
		OnTop      bool   `json:"onTop"`
		Background string `json:"background"`
	} `json:"button"`
	// Scripts counts <script> elements; Outside counts what would load
	// or style from elsewhere: <style>, <link>, <img>, frames, objects.
	Scripts int    `json:"scripts"`
	Outside int    `json:"outside"`
	Heading string `json:"heading"`
	Text    string `json:"text"`
}

// box is an element's bounding box.
type box struct {
	Left   float64 `json:"left"`
	Top    float64 `json:"top"`
	Right  float64 `json:"right"`
	Bottom float64 `json:"bottom"`
	Width  float64 `json:"width"`
	Height float64 `json:"height"`
}

// measureMail is the JavaScript that returns a mailLayout.
const measureMail = `(() => {
	const box = (el) => { const r = el.getBoundingClientRect(); return {left: r.left, top: r.top, right: r.right, bottom: r.bottom, width: r.width, height: r.height}; };
	const card = document.querySelector('.card');
	const a = [...document.querySelectorAll('a')].find((a) => a.textContent.trim() === 'Sign in');
	let button = null;
	if (a) {
		const b = box(a);
		const hit = document.elementFromPoint((b.left + b.right) / 2, (b.top + b.bottom) / 2);
		button = {...b, href: a.getAttribute('href'), onTop: !!hit && a.contains(hit), background: getComputedStyle(a).backgroundColor};
	}
	return {
		innerWidth: window.innerWidth, innerHeight: window.innerHeight,
		card: card ? box(card) : null, button,
		scripts: document.querySelectorAll('script').length,
		outside: document.querySelectorAll('style, link, img, iframe, object, embed').length,
		heading: document.querySelector('h1')?.textContent || '',
		text: document.body.innerText,
	};
})()`

// TestMails_ReadOnALaptopAndAPhone renders both emails as the handlers
// do and opens each in headless Chromium on a laptop (1280×900) and a
// phone (390×844): neither scrolls sideways, the card is at most 560 px
// wide and fits the phone, the sign-in button is in the first screen
// and links to the token, nothing is scripted or loaded from elsewhere.
// It keeps a full screenshot of each (chrome.Tab.Screenshot).
func TestMails_ReadOnALaptopAndAPhone(t *testing.T) {
	browser := chrome.New(t)
	// A token as long as ddb's (32 bytes, base64url): the fallback
	// address must wrap on a phone, though it has no hyphen to break at.
	link := "https://busywork.example.com/auth/verify?token=q3Zt0_8hXk2wPzLr9mB4aYcN7eJvS1uDgF6oTiKxW5E"
	signin, _, err := renderMagicLink(magicLinkData{Name: "Ada Lovelace", Link: link, ValidFor: "15 minutes"})
	if err != nil {
		t.Fatal(err)
	}
	const event = "GopherCon EU 2026: the community day"
	var files []TicketFile
	for n := 41; n <= 80; n++ {
		files = append(files, TicketFile{Name: fmt.Sprintf("ticket-ord-1-%d.pdf", n), Number: n, PDF: []byte("%PDF-")})
	}
	tickets := aws.ToString(TicketEmail("tickets@example.com", "ada@example.com", event, 2, 3, files).Content.Simple.Body.Html.Data)

	pages := map[string]string{"/signin": signin, "/tickets": tickets}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		page, ok := pages[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		if _, err := io.WriteString(w, page); err != nil {
			t.Errorf("serve %s to the browser: %v", r.URL.Path, err)
		}
	}))
	t.Cleanup(srv.Close)
	for _, mail := range []struct {
		name, path, html string
		check            func(t *testing.T, screen string, l mailLayout)
	}{
		{"signin", "/signin", signin, func(t *testing.T, screen string, l mailLayout) {
			b := l.Button
			switch {
			case b == nil:
				t.Errorf("on the %s there is no Sign in button:\n%s", screen, l.Text)
			case b.Href != link:
				t.Errorf("the Sign in button links to %q, want %q", b.Href, link)
			case b.Width < 100 || b.Height < 40 || b.Left < 0 || b.Top < 0 || b.Right > l.InnerWidth || b.Bottom > l.InnerHeight:
				t.Errorf("on the %s the Sign in button is at %+v, not a big button within the first %vx%v", screen, b.box, l.InnerWidth, l.InnerHeight)
			case !b.OnTop:
				t.Errorf("on the %s something covers the Sign in button", screen)
			case b.Background != "rgb(47, 95, 208)":
				t.Errorf("the Sign in button's background is %s, want the accent #2f5fd0", b.Background)
			}
			for _, want := range []string{"Hello Ada Lovelace,", "valid for 15 minutes and works once", link, "If you did not ask to sign in, you can ignore this email."} {
				if !strings.Contains(l.Text, want) {
					t.Errorf("on the %s the mail does not read %q:\n%s", screen, want, l.Text)
				}
			}
		}},
		{"tickets", "/tickets", tickets, func(t *testing.T, screen string, l mailLayout) {
			if l.Heading != event {
				t.Errorf("the heading is %q, want the event %q", l.Heading, event)
			}
			for _, want := range []string{"40 PDF files", "Tickets 41–80", "This is email 2 of 3", "QR code"} {
				if !strings.Contains(l.Text, want) {
					t.Errorf("on the %s the mail does not read %q:\n%s", screen, want, l.Text)
				}
			}
		}},
	} {
		if strings.Contains(strings.ToLower(mail.html), "<script") {
			t.Errorf("the %s mail holds a script:\n%s", mail.name, mail.html)
		}
		for _, screen := range []chrome.Screen{chrome.Laptop, chrome.Phone} {
			t.Run(mail.name+" on a "+screen.Name, func(t *testing.T) {
				tab := chrome.NewTab(t, browser, screen)
				tab.Open(t, srv.URL+mail.path)
				l, err := chromedp.Run(tab, chromedp.Evaluate[mailLayout](measureMail))
				if err != nil {
					t.Fatal(err)
				}
				switch c := l.Card; {
				case c == nil:
					t.Errorf("no card (.card)")
				case c.Width > 560 || c.Left < 0 || c.Right > l.InnerWidth:
					t.Errorf("the card is at %+v: wider than 560 px or off the %v px screen", *c, l.InnerWidth)
				case screen == chrome.Laptop && c.Width < 500:
					t.Errorf("on the laptop the card is only %v px wide, want about 560", c.Width)
				}
				if l.Scripts > 0 || l.Outside > 0 {
					t.Errorf("%d scripts and %d style sheets, images or frames, want none: mail clients run no script and load nothing", l.Scripts, l.Outside)
				}
				mail.check(t, screen.Name, l)
				tab.Screenshot(t, "mail-"+mail.name) // and checks it is no wider than the screen
			})
		}
	}
}
