package consumer

import (
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/busywork/busywork/jobs"
)

func TestConfig_Defaults(t *testing.T) {
	c, err := Config{Queues: []QueueConfig{{URL: "http://q/jobs", Concurrency: 25}}}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	q := c.Queues[0]
	if q.Name != "jobs" || q.MaxReceives != 100 || q.MaxUnconfirmed != 1000 || c.DrainTimeout != 25*time.Second || c.WaitTime != 20*time.Second ||
		c.BackoffBase != 2*time.Second || c.BackoffMax != 15*time.Minute || c.HungGrace != 10*time.Second ||
		c.HoldLimit != DefaultHoldLimit || c.MaxHop != MaxHop {
		t.Fatalf("defaults = %+v, queue %+v", c, q)
	}
	// A shutdown no longer waits out a long poll, so a short drain keeps
	// the production wait.
	c, err = Config{Queues: []QueueConfig{{URL: "u", Concurrency: 100}}, DrainTimeout: 2 * time.Second}.withDefaults()
	if err != nil || c.WaitTime != 20*time.Second {
		t.Fatalf("short drain: wait %s, err %v", c.WaitTime, err)
	}
}

func TestConfig_RejectsOutOfRangeValuesNamingTheField(t *testing.T) {
	q := []QueueConfig{{URL: "u"}}
	tests := []struct {
		name  string
		cfg   Config
		field string
		want  string
	}{
		{"no queues", Config{}, "Queues", "no queues"},
		{"no url", Config{Queues: []QueueConfig{{}}}, "Queues[0].URL", "empty"},
		{"negative concurrency", Config{Queues: []QueueConfig{{URL: "u", Concurrency: -1}}}, "Queues[0].Concurrency", "-1"},
		{"negative unconfirmed", Config{Queues: []QueueConfig{{URL: "u", MaxUnconfirmed: -1}}}, "Queues[0].MaxUnconfirmed", "-1"},
		{"too many receives", Config{Queues: []QueueConfig{{URL: "u", MaxReceives: 1001}}}, "Queues[0].MaxReceives", "1001"},
		{"too few receives", Config{Queues: []QueueConfig{{URL: "u", MaxReceives: 1}}}, "Queues[0].MaxReceives", "1"},
		{"lease too short", Config{Queues: []QueueConfig{{URL: "u", Lease: time.Second}}}, "Queues[0].Lease", "1s"},
		{"lease past 12 h", Config{Queues: []QueueConfig{{URL: "u", Lease: 13 * time.Hour}}}, "Queues[0].Lease", "13h"},
		{"drain past an hour", Config{Queues: q, DrainTimeout: 2 * time.Hour}, "DrainTimeout", "2h0m0s"},
		{"wait not whole seconds", Config{Queues: q, WaitTime: 1500 * time.Millisecond}, "WaitTime", "1.5s"},
		{"wait past 20 s", Config{Queues: q, WaitTime: 21 * time.Second}, "WaitTime", "21s"},
		{"backoff max under base", Config{Queues: q, BackoffBase: time.Minute, BackoffMax: time.Second}, "BackoffMax", "backoff base"},
		{"backoff past 12 h", Config{Queues: q, BackoffMax: 13 * time.Hour}, "BackoffMax", "12h"},
		{"two lanes of one name", Config{Queues: []QueueConfig{{URL: "a/jobs"}, {URL: "b/jobs"}}}, "Queues[1].Name", `"jobs" names two queues`},
		{"hung share above 1", Config{Queues: q, UnhealthyHungShare: 1.5}, "UnhealthyHungShare", "1.5"},
		{"hung share not a number", Config{Queues: q, UnhealthyHungShare: math.NaN()}, "UnhealthyHungShare", "NaN"},
		{"hop past SQS's delay", Config{Queues: q, MaxHop: 16 * time.Minute}, "MaxHop", "16m0s"},
		{"hop under a second", Config{Queues: q, MaxHop: time.Millisecond}, "MaxHop", "1ms"},
		{"hold past the hop", Config{Queues: q, MaxHop: time.Minute, HoldLimit: 2 * time.Minute}, "HoldLimit", "2m0s"},
		{"negative hold", Config{Queues: q, HoldLimit: -time.Second}, "HoldLimit", "-1s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.cfg.withDefaults()
			var ce *ConfigError
			if !errors.As(err, &ce) || ce.Field != tt.field || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want a ConfigError on %s containing %q", err, tt.field, tt.want)
			}
		})
	}
}

func TestNew_RefusesAHandlerTimeoutThatCannotFitInTwelveHours(t *testing.T) {
	mux := NewMux()
	Handle(mux, func(context.Context, jobs.Ping) error { return nil }, Timeout(12*time.Hour))
	_, err := New(nopSQS{}, mux, Config{Queues: []QueueConfig{{URL: "u"}}})
	var ce *ConfigError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), `"ping"`) {
		t.Fatalf("New = %v, want a ConfigError naming the ping timeout", err)
	}
	mux = NewMux()
	Handle(mux, func(context.Context, jobs.Ping) error { return nil }, Timeout(11*time.Hour))
	if _, err := New(nopSQS{}, mux, Config{Queues: []QueueConfig{{URL: "u", Lease: 12*time.Hour - time.Minute}}}); err != nil {
		t.Fatalf("New with an 11 h timeout and a lease of 12 h less a minute: %v", err)
	}
}

// nopSQS is an SQSAPI that New only stores.
type nopSQS struct{ SQSAPI }

func TestConsumer_MetricTypeLabelIsBoundedToRegisteredTypes(t *testing.T) {
	mux := NewMux()
	Handle(mux, func(context.Context, jobs.Ping) error { return nil })
	c, err := New(nopSQS{}, mux, Config{Queues: []QueueConfig{{URL: "u"}}})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.typeLabel("ping"); got != "ping" {
		t.Errorf("typeLabel(ping) = %q", got)
	}
	if got := c.typeLabel("made-up-" + strings.Repeat("x", 40)); got != "unknown" {
		t.Errorf("typeLabel(made-up) = %q, want unknown", got)
	}
}
