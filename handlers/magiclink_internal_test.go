package handlers

import (
	"strings"
	"testing"
	"time"
)

func TestHumanDuration(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{15 * time.Minute, "15 minutes"},
		{time.Minute, "1 minute"},
		{time.Hour, "1 hour"},
		{2 * time.Hour, "2 hours"},
		{90 * time.Second, "90 seconds"},
		{1500 * time.Millisecond, "1.5s"},
	}
	for _, tt := range tests {
		if got := humanDuration(tt.d); got != tt.want {
			t.Errorf("humanDuration(%s) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

func TestRenderMagicLink_EscapesOnlyTheHTMLPart(t *testing.T) {
	data := magicLinkData{
		Name:     `<img src=x onerror="alert(1)">`,
		Link:     "https://example.com/auth/verify?token=abc_-",
		ValidFor: "15 minutes",
	}
	html, text, err := renderMagicLink(data)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(html, "<img") || !strings.Contains(html, "&lt;img") {
		t.Errorf("HTML part does not escape the name:\n%s", html)
	}
	if !strings.Contains(html, `href="https://example.com/auth/verify?token=abc_-"`) {
		t.Errorf("HTML part does not link to the token:\n%s", html)
	}
	if !strings.Contains(text, data.Name) || !strings.Contains(text, data.Link) || !strings.Contains(text, "15 minutes") {
		t.Errorf("text part lacks the name, link or validity:\n%s", text)
	}
	// A name-less user is greeted without a dangling space.
	html, text, err = renderMagicLink(magicLinkData{Link: data.Link, ValidFor: "1 hour"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(html, ">Hello,</p>") || !strings.HasPrefix(text, "Hello,\n") {
		t.Errorf("greeting without a name:\nHTML: %s\ntext: %s", html, text)
	}
}
