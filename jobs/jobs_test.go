package jobs_test

import (
	"strings"
	"testing"

	"github.com/busywork/busywork/jobs"
)

func TestPing_Validate(t *testing.T) {
	tests := []struct {
		name    string
		job     jobs.Ping
		wantErr string // substring; "" means valid
	}{
		{"ping", jobs.Ping{}, ""},
		{"ping too long", jobs.Ping{Message: strings.Repeat("x", 1025)}, "longer than 1024"},
		{"ping with work", jobs.Ping{WorkMS: 100}, ""},
		{"ping with the most work", jobs.Ping{WorkMS: jobs.MaxPingWorkMS}, ""},
		{"ping with negative work", jobs.Ping{WorkMS: -1}, "work_ms: -1 is not between 0 and 60000"},
		{"ping with too much work", jobs.Ping{WorkMS: jobs.MaxPingWorkMS + 1}, "work_ms: 60001 is not between 0 and 60000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.job.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Validate() = %v, want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Validate() = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}
