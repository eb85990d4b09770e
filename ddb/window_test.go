package ddb

import (
	"testing"
	"time"
)

func TestWindow_AlignsToTheEpoch(t *testing.T) {
	tests := []struct {
		at         time.Time
		d          time.Duration
		start, end int64
	}{
		{time.Unix(7200, 0), time.Hour, 7200, 10800},
		{time.Unix(10799, 999), time.Hour, 7200, 10800},
		{time.Unix(10800, 0), time.Hour, 10800, 14400},
		{time.Unix(125, 0), time.Minute, 120, 180},
		{time.Unix(-1, 0), time.Hour, -3600, 0},
		{time.Unix(5, 0), time.Millisecond, 5, 6},
	}
	for _, tt := range tests {
		start, end := window(tt.at, tt.d)
		if start != tt.start || end != tt.end {
			t.Errorf("window(%d, %s) = %d, %d; want %d, %d", tt.at.Unix(), tt.d, start, end, tt.start, tt.end)
		}
	}
}

func TestEpoch_RoundsUp(t *testing.T) {
	if got := epoch(time.Unix(10, 0)); got != 10 {
		t.Errorf("epoch(10 s) = %d, want 10", got)
	}
	if got := epoch(time.Unix(10, 1)); got != 11 {
		t.Errorf("epoch(10 s + 1 ns) = %d, want 11", got)
	}
}
