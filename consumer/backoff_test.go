package consumer

import (
	"testing"
	"time"
)

func TestBackoff_GrowsWithEachReceiveAndStaysUnderTheCap(t *testing.T) {
	const base, limit = 2 * time.Second, time.Minute
	tests := []struct {
		receive  int
		jitter   float64
		expected time.Duration
	}{
		{receive: 1, jitter: 0, expected: 1 * time.Second},
		{receive: 1, jitter: 0.999999, expected: 2 * time.Second},
		{receive: 2, jitter: 0, expected: 2 * time.Second},
		{receive: 3, jitter: 0.5, expected: 6 * time.Second},
		{receive: 5, jitter: 0, expected: 16 * time.Second},
		{receive: 6, jitter: 0, expected: 32 * time.Second},
		{receive: 6, jitter: 0.999999, expected: time.Minute}, // 64s capped
		{receive: 50, jitter: 0.999999, expected: time.Minute},
		{receive: 0, jitter: 0, expected: 1 * time.Second}, // a message without a count
	}
	for _, tt := range tests {
		got := Backoff(tt.receive, base, limit, func() float64 { return tt.jitter })
		if d := got - tt.expected; d < -time.Millisecond || d > time.Millisecond {
			t.Errorf("Backoff(%d, jitter %v) = %s, want %s", tt.receive, tt.jitter, got, tt.expected)
		}
	}
}

func TestBackoff_ShortestDelayOfAReceiveIsTheLongestOfTheOneBefore(t *testing.T) {
	lowest := func(n int) time.Duration { return Backoff(n, time.Second, time.Hour, func() float64 { return 0 }) }
	highest := func(n int) time.Duration {
		return Backoff(n, time.Second, time.Hour, func() float64 { return 0.9999999 })
	}
	for n := 1; n < 20; n++ {
		if highest(n) > lowest(n+1)+time.Millisecond {
			t.Fatalf("receive %d may wait %s, longer than receive %d's shortest %s", n, highest(n), n+1, lowest(n+1))
		}
	}
}

func TestBackoff_NeverPastTwelveHours(t *testing.T) {
	if got := Backoff(100, time.Hour, 48*time.Hour, func() float64 { return 0.9999999 }); got > maxVisibility {
		t.Fatalf("Backoff = %s, past SQS's 12 h", got)
	}
	if got := visibilitySeconds(24 * time.Hour); got != 43200 {
		t.Fatalf("visibilitySeconds(24h) = %d, want 43200", got)
	}
}

func TestVisibilitySeconds_RoundsUpToWholeSeconds(t *testing.T) {
	for d, want := range map[time.Duration]int32{
		-time.Second: 0, 0: 0, time.Millisecond: 1, time.Second: 1, 1500 * time.Millisecond: 2, time.Minute: 60,
	} {
		if got := visibilitySeconds(d); got != want {
			t.Errorf("visibilitySeconds(%s) = %d, want %d", d, got, want)
		}
	}
}

func TestExtension_StopsAtTheDeadlineAndAtTwelveHours(t *testing.T) {
	received := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const lease = 30 * time.Second
	tests := []struct {
		name   string
		now    time.Time
		until  time.Time
		want   int32
		wantOK bool
	}{
		{"one more lease", received.Add(20 * time.Second), received.Add(time.Hour), 30, true},
		{"up to the deadline", received.Add(50 * time.Second), received.Add(time.Minute), 10, true},
		{"deadline passed", received.Add(61 * time.Second), received.Add(time.Minute), 0, false},
		{"under a second left", received.Add(59500 * time.Millisecond), received.Add(time.Minute), 0, false},
		{"near the 12 h limit", received.Add(maxVisibility - 12*time.Second), received.Add(24 * time.Hour), 12, true},
		{"at the 12 h limit", received.Add(maxVisibility), received.Add(24 * time.Hour), 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := extension(tt.now, received, tt.until, lease)
			if got != tt.want || ok != tt.wantOK {
				t.Fatalf("extension = %d, %v; want %d, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestRetryPolicy_DelayDoublesToItsCapWithItsShareOfJitter(t *testing.T) {
	p := RetryPolicy{Attempts: 10, Base: time.Second, Max: 10 * time.Second, Jitter: 0.2}
	for _, tt := range []struct {
		attempt int
		rnd     float64
		want    time.Duration
	}{
		{1, 0, 800 * time.Millisecond}, // 80% fixed
		{1, 1, time.Second},
		{2, 0.5, 1800 * time.Millisecond},
		{4, 0, 6400 * time.Millisecond},
		{5, 1, 10 * time.Second}, // 16 s capped at 10
		{50, 0, 8 * time.Second},
	} {
		if got := p.delay(tt.attempt, func() float64 { return tt.rnd }); got != tt.want {
			t.Errorf("attempt %d, rnd %v: delay %s, want %s", tt.attempt, tt.rnd, got, tt.want)
		}
	}
	// Unset delays come from the consumer's backoff, with equal jitter.
	d := RetryPolicy{Attempts: 3}.withDefaults(2*time.Second, time.Minute)
	if d.Base != 2*time.Second || d.Max != time.Minute || d.Jitter != 0.5 {
		t.Errorf("defaults %+v", d)
	}
	// A base above the consumer's cap raises the cap, not the reverse.
	if d := (RetryPolicy{Base: 2 * time.Minute}).withDefaults(time.Second, time.Minute); d.Max != 2*time.Minute {
		t.Errorf("cap %s under a base of 2m", d.Max)
	}
}
