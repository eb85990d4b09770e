package busywork

import (
	"testing"
	"time"
)

func TestParseDelay_TakesGoDurationsAndWholeDays(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"90s", 90 * time.Second, true},
		{"2h30m", 150 * time.Minute, true},
		{"7d", 7 * 24 * time.Hour, true},
		{"0d", 0, true},
		{"-1d", -24 * time.Hour, true}, // refused as out of range, naming the range
		{"99999999999d", maxDays * 24 * time.Hour, true},
		{"-99999999999d", -maxDays * 24 * time.Hour, true},
		{"1.5d", 0, false},
		{"d", 0, false},
		{"100y", 0, false},
		{"soon", 0, false},
	}
	for _, tt := range tests {
		got, err := parseDelay(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("parseDelay(%q) = %v, %v; want %v (ok %v)", tt.in, got, err, tt.want, tt.ok)
		}
	}
}
