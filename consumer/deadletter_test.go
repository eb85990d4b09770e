package consumer

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestAttributeText_KeepsWhatSQSAllowsAndFitsTheLimit(t *testing.T) {
	tests := []struct {
		name, in string
		n        int
		want     string
	}{
		{"plain", "boom: bad thing", 100, "boom: bad thing"},
		{"tabs and newlines kept", "a\tb\nc\rd", 100, "a\tb\nc\rd"},
		{"control characters replaced", "a\x00b\x1fc", 100, "a\uFFFDb\uFFFDc"},
		{"noncharacters replaced", "a\uFFFEb\uFFFF", 100, "a\uFFFDb\uFFFD"},
		{"invalid UTF-8 replaced", "a\xffb", 100, "a\uFFFDb"},
		{"astral kept", "ticket 🎟", 100, "ticket 🎟"},
		{"cut at the limit", strings.Repeat("x", 20), 8, "xxxxxxxx"},
		{"never splits a character", "ab€", 4, "ab"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := attributeText(tt.in, tt.n)
			if got != tt.want || len(got) > tt.n || !utf8.ValidString(got) {
				t.Fatalf("attributeText(%q, %d) = %q, want %q", tt.in, tt.n, got, tt.want)
			}
		})
	}
}

func TestUndeadSet_ForgetsTheOldestPastItsBound(t *testing.T) {
	s := newUndeadSet()
	why := errors.New("permanent")
	for i := range maxUndead + 5 {
		s.put(fmt.Sprint(i), why)
	}
	if _, ok := s.get("0"); ok {
		t.Error("the oldest entry is still remembered past the bound")
	}
	if got, ok := s.get(fmt.Sprint(maxUndead + 4)); !ok || got != why {
		t.Errorf("the newest entry = %v, %v", got, ok)
	}
	s.drop(fmt.Sprint(maxUndead + 4))
	if _, ok := s.get(fmt.Sprint(maxUndead + 4)); ok || len(s.order) != maxUndead-1 {
		t.Errorf("after drop: %d remembered in order", len(s.order))
	}
}
