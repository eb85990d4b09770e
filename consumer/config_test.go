package consumer

import (
	"strings"
	"testing"
	"time"
)

func TestConfig_Defaults(t *testing.T) {
	c, err := Config{Queues: []QueueConfig{{URL: "http://q/jobs", Concurrency: 25}}}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	q := c.Queues[0]
	if q.Pollers != 3 || c.DrainTimeout != 25*time.Second || c.WaitTime != 20*time.Second ||
		c.BackoffBase != 2*time.Second || c.BackoffMax != 15*time.Minute || c.HungGrace != 10*time.Second {
		t.Fatalf("defaults = %+v, queue %+v", c, q)
	}
	c, err = Config{Queues: []QueueConfig{{URL: "u"}}, DrainTimeout: 8 * time.Second}.withDefaults()
	if err != nil || c.WaitTime != 3*time.Second || c.Queues[0].Concurrency != 10 || c.Queues[0].Pollers != 1 {
		t.Fatalf("short drain: wait %s, queue %+v, err %v", c.WaitTime, c.Queues[0], err)
	}
}

func TestConfig_RejectsOutOfRangeValues(t *testing.T) {
	q := []QueueConfig{{URL: "u"}}
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no queues", Config{}, "no queues"},
		{"no url", Config{Queues: []QueueConfig{{}}}, "has no URL"},
		{"negative concurrency", Config{Queues: []QueueConfig{{URL: "u", Concurrency: -1}}}, "concurrency -1"},
		{"more pollers than slots", Config{Queues: []QueueConfig{{URL: "u", Concurrency: 2, Pollers: 3}}}, "pollers 3"},
		{"lease too short", Config{Queues: []QueueConfig{{URL: "u", Lease: time.Second}}}, "lease 1s"},
		{"drain past ECS", Config{Queues: q, DrainTimeout: 3 * time.Minute}, "drain timeout 3m0s"},
		{"wait not whole seconds", Config{Queues: q, WaitTime: 1500 * time.Millisecond}, "wait time 1.5s"},
		{"wait past 20 s", Config{Queues: q, WaitTime: 21 * time.Second}, "wait time 21s"},
		{"wait not under drain", Config{Queues: q, WaitTime: 10 * time.Second, DrainTimeout: 10 * time.Second}, "shorter than the drain"},
		{"backoff max under base", Config{Queues: q, BackoffBase: time.Minute, BackoffMax: time.Second}, "backoff base"},
		{"backoff past 12 h", Config{Queues: q, BackoffMax: 13 * time.Hour}, "backoff base"},
		{"hung share above 1", Config{Queues: q, UnhealthyHungShare: 1.5}, "hung share"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.cfg.withDefaults()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}
