package dlq_test

import (
	"testing"

	"github.com/busywork/busywork/internal/dlq"
)

func TestFilter_MatchesByTypeErrorTextAndErrorGroup(t *testing.T) {
	throttled := &dlq.Letter{Type: "magic_link", Error: "SES: rate exceeded, RequestID: 1f0e8f2a-7c56-4c2b-9a41-0d7a3f1b2c3d"}
	redriven := &dlq.Letter{Type: "ping"}
	untyped := &dlq.Letter{Error: "no type"}
	tests := []struct {
		name   string
		filter dlq.Filter
		l      *dlq.Letter
		want   bool
	}{
		{"zero filter", dlq.Filter{}, throttled, true},
		{"type", dlq.Filter{Type: "magic_link"}, throttled, true},
		{"other type", dlq.Filter{Type: "ping"}, throttled, false},
		{"text in any case", dlq.Filter{Error: "RATE EXCEEDED"}, throttled, true},
		{"group", dlq.Filter{Group: "SES: rate exceeded, RequestID: <id>"}, throttled, true},
		{"group is not a piece of it", dlq.Filter{Group: "rate exceeded"}, throttled, false},
		{"NoError group", dlq.Filter{Group: dlq.NoError}, redriven, true},
		{"NoError group, letter with an error", dlq.Filter{Group: dlq.NoError}, throttled, false},
		{"NoType", dlq.Filter{Type: dlq.NoType}, untyped, true},
		{"NoType, typed letter", dlq.Filter{Type: dlq.NoType}, redriven, false},
		{"type and group", dlq.Filter{Type: "ping", Group: dlq.NoError}, redriven, true},
	}
	for _, tt := range tests {
		if got := tt.filter.Match(tt.l); got != tt.want {
			t.Errorf("%s: %+v.Match(%+v) = %v, want %v", tt.name, tt.filter, tt.l, got, tt.want)
		}
	}
}
