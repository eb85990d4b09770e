package console

import (
	"testing"
	"time"

	"github.com/busywork/busywork/internal/dlq"
)

func TestLaneView_BoundsTheOldestAndMeasuresTheBacklogsChange(t *testing.T) {
	t0 := time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	tests := []struct {
		name    string
		samples []sample
		now     time.Time
		oldest  oldest
		net     *float64
	}{
		{"no sample yet", nil, at(0), oldest{}, nil},
		{"one sample, something waits", []sample{{at: at(0), visible: 3}}, at(5), oldest{Kind: "over", Seconds: 5}, nil},
		{"empty now", []sample{{at: at(0), visible: 3}, {at: at(10)}}, at(10), oldest{Kind: "empty"}, ptr(-0.3)},
		{"empty 20s ago, then 6 arrived", []sample{{at: at(0)}, {at: at(10), visible: 2, delayed: 1}, {at: at(20), visible: 4, inFlight: 2}},
			at(20), oldest{Kind: "under", Seconds: 20}, ptr(0.3)},
		// The change is over the last minute only: the 100 of 2 minutes
		// ago do not count.
		{"a minute's window", []sample{{at: at(0), visible: 100}, {at: at(60), visible: 10}, {at: at(120), visible: 70}},
			at(120), oldest{Kind: "over", Seconds: 120}, ptr(1)},
	}
	for _, tt := range tests {
		l := newLane(Lane{Name: "default", Queue: &dlq.Queue{}}, 10)
		for _, s := range tt.samples {
			l.add(s)
		}
		v := l.view(tt.now)
		if v.Oldest != tt.oldest {
			t.Errorf("%s: oldest %+v, want %+v", tt.name, v.Oldest, tt.oldest)
		}
		if (v.NetRate == nil) != (tt.net == nil) || (v.NetRate != nil && *v.NetRate != *tt.net) {
			t.Errorf("%s: net rate %v, want %v", tt.name, deref(v.NetRate), deref(tt.net))
		}
		if len(v.History) != len(tt.samples) {
			t.Errorf("%s: %d points of history, want %d", tt.name, len(v.History), len(tt.samples))
		}
	}
}

func TestLane_KeepsHistoryAndNoMore(t *testing.T) {
	l := newLane(Lane{Name: "default", Queue: &dlq.Queue{}}, 3)
	t0 := time.Now()
	for i := range 5 {
		l.add(sample{at: t0.Add(time.Duration(i) * time.Second), visible: i})
	}
	v := l.view(t0.Add(5 * time.Second))
	if len(v.History) != 3 || v.History[0][1] != 2 || v.History[2][1] != 4 {
		t.Errorf("history %v, want the last 3 samples (2, 3, 4 visible)", v.History)
	}
}

func ptr(f float64) *float64 { return &f }

func deref(f *float64) any {
	if f == nil {
		return nil
	}
	return *f
}
