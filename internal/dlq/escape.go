package dlq

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// Escaped returns s with every character that a terminal could act on,
// or that would show what is not there, written as a Go escape: control
// characters (\x1b, \r, \n, \t, \x7f, the C1 range as \u009b), format
// characters such as the Unicode bidi overrides (\u202e), other invisible
// or non-printing runes, and bytes that are not UTF-8 (\xff). Printable
// text, the ASCII space among it, is kept; a backslash is kept as it is,
// so an escape in the output may also stand for itself in the input (the
// --json form is exact).
//
// A dead letter's body and attributes come from whoever could send to the
// queue: printed raw, "\x1b[2J" clears an operator's screen and a bidi
// override reorders what they read.
func Escaped(s string) string {
	if isPlain(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == ' ' || unicode.IsPrint(r):
			b.WriteString(s[i : i+size])
		default:
			q := strconv.QuoteRuneToASCII(r) // '\x1b', '\u202e'
			b.WriteString(q[1 : len(q)-1])
		}
		i += size
	}
	return b.String()
}

// isPlain reports whether s is printable ASCII only: the common case,
// which Escaped returns as it is.
func isPlain(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// escapeJSON rewrites, in JSON that encoding/json wrote, the runes it
// leaves raw although no terminal should get them (DEL, the C1 controls,
// bidi overrides and other non-printing runes) as \u escapes. encoding/json
// escapes the C0 controls, U+2028 and U+2029 already and writes invalid
// UTF-8 as U+FFFD; outside strings its output is ASCII, so every rune
// rewritten is inside a string, and the JSON means the same.
func escapeJSON(data []byte) []byte {
	plain := true
	for _, c := range data {
		if c >= utf8.RuneSelf || c == 0x7f {
			plain = false
			break
		}
	}
	if plain {
		return data
	}
	var b bytes.Buffer
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		if r == 0x7f || (r >= utf8.RuneSelf && !unicode.IsPrint(r)) {
			if r > 0xffff {
				r1, r2 := utf16.EncodeRune(r)
				fmt.Fprintf(&b, `\u%04x\u%04x`, r1, r2)
			} else {
				fmt.Fprintf(&b, `\u%04x`, r)
			}
		} else {
			b.Write(data[i : i+size])
		}
		i += size
	}
	return b.Bytes()
}
