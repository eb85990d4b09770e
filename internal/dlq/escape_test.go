package dlq

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestEscaped_WritesWhatATerminalWouldActOnAsEscapes(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"type":"ping","message":"hi"}`, `{"type":"ping","message":"hi"}`},
		{"\x1b[2J\x1b[31mred", `\x1b[2J\x1b[31mred`},
		{"line\r\nnext\ttab", `line\r\nnext\ttab`},
		{"bell\a del\x7f nul\x00", `bell\a del\x7f nul\x00`},
		{"c1 csi \u009b31m nel \u0085", `c1 csi \u009b31m nel \u0085`},
		{"\u202eevil\u202c \u2066iso\u2069 \u200f", `\u202eevil\u202c \u2066iso\u2069 \u200f`},
		{"zero\u200bwidth \ufeffbom", `zero\u200bwidth \ufeffbom`},
		{"bad \xff\xfe utf-8", `bad \xff\xfe utf-8`},
		{"héllo, 日本, emoji 🎟, a\\x1b stays", "héllo, 日本, emoji 🎟, a\\x1b stays"},
	}
	for _, tt := range tests {
		got := Escaped(tt.in)
		if got != tt.want {
			t.Errorf("Escaped(%q) = %q, want %q", tt.in, got, tt.want)
		}
		for _, r := range got {
			if r != ' ' && !unicode.IsPrint(r) {
				t.Errorf("Escaped(%q) holds %U", tt.in, r)
			}
		}
	}
}

// hostile is a dead letter whose sender tried to act on the operator's
// terminal: clear it, colour it, move the cursor, reorder text.
func hostile() *Letter {
	return &Letter{
		MessageID: "m-1", JobID: "job\x1b[1A-1", Type: "ping\u202e", Error: "boom\r\n\x1b[2Jgone", FailedAt: "2026\x07",
		Body: "{\"type\":\"ping\",\"message\":\"\x1b[2J\u009b31m\u202eevil\x7f\"}", ReceiveCount: 2,
	}
}

// checkInert fails the test if out holds a byte or rune a terminal acts
// on, other than the newlines that end lines and the spaces of a table.
func checkInert(t *testing.T, what string, out []byte) {
	t.Helper()
	for i, r := range string(out) {
		if r != '\n' && r != ' ' && !unicode.IsPrint(r) || r == utf8.RuneError {
			t.Errorf("%s holds %U at byte %d:\n%q", what, r, i, out)
			return
		}
	}
}

func TestWriteTable_ShowsControlCharactersOfBodiesAndAttributesEscaped(t *testing.T) {
	var out bytes.Buffer
	if err := WriteTable(&out, []*Letter{hostile()}); err != nil {
		t.Fatal(err)
	}
	checkInert(t, "the table", out.Bytes())
	for _, want := range []string{`job\x1b[1A-1`, `ping\u202e`, `boom\r\n\x1b[2Jgone`, `2026\a`, `\x1b[2J\u009b31m\u202eevil\x7f`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the table lacks %s:\n%s", want, out.String())
		}
	}
	if got := strings.Count(out.String(), "\n"); got != 2 {
		t.Errorf("the table has %d lines, want 2 (the header and one letter):\n%s", got, out.String())
	}
	if s := hostile().String(); strings.ContainsAny(s, "\x1b\u202e") {
		t.Errorf("Letter.String() = %q, holds raw control characters", s)
	}
}

func TestWriteJSON_EscapesEveryControlCharacterAndDecodesToTheSameLetter(t *testing.T) {
	var out bytes.Buffer
	want := hostile()
	if err := WriteJSON(&out, []*Letter{want}); err != nil {
		t.Fatal(err)
	}
	checkInert(t, "the JSON", out.Bytes())
	var got Letter
	if err := json.Unmarshal(out.Bytes(), &got); err != nil {
		t.Fatalf("%s: %v", out.String(), err)
	}
	if got.Body != want.Body || got.Error != want.Error || got.JobID != want.JobID || got.Type != want.Type || got.FailedAt != want.FailedAt {
		t.Errorf("decoded %+v, want %+v", got, *want)
	}
	if !strings.Contains(out.String(), `\u001b[2J\u009b31m\u202eevil\u007f`) {
		t.Errorf("the JSON does not escape the body's controls as \\u escapes:\n%s", out.String())
	}
	// A rune past the BMP that is no graphic is written as a surrogate pair.
	if got := string(escapeJSON([]byte("\"\U000E0001\""))); got != `"\udb40\udc01"` {
		t.Errorf("escapeJSON(U+E0001) = %s, want a surrogate pair", got)
	}
}
