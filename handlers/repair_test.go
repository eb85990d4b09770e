package handlers_test

import (
	"strings"
	"testing"
	"time"

	"github.com/busywork/busywork/ddb"
	"github.com/busywork/busywork/handlers"
)

func TestOrderAction_NamesTheCommandsThatFinishTheOrder(t *testing.T) {
	now := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	ago := func(d time.Duration) *time.Time { at := now.Add(-d); return &at }
	laneOf := handlers.Routes().Lane // generate_ticket on bulk, dispatch_tickets on default
	tests := []struct {
		name string
		st   ddb.OrderStatus
		want []string // substrings; none means no action
	}{
		{"a failed ticket", ddb.OrderStatus{OrderID: "o", Total: 2, Done: 1, Failed: []int{2}},
			[]string{"`busywork batch repair o`", "`busywork dlq replay --lane bulk --type generate_ticket`"}},
		{"complete a moment ago", ddb.OrderStatus{OrderID: "o", Total: 2, Done: 2, Failed: []int{}, Complete: true, CompletedAt: ago(time.Minute)},
			nil},
		{"stalled by ticket 2", ddb.OrderStatus{OrderID: "o", Total: 2, Done: 2, Failed: []int{}, Complete: true, CompletedAt: ago(time.Minute),
			Stalled: &ddb.OrderStall{Tickets: []int{2}, Reason: "enqueue the dispatch: throttled", Since: now}},
			[]string{"`busywork batch repair o`", "--lane bulk --type generate_ticket"}},
		{"the dispatch failed", ddb.OrderStatus{OrderID: "o", Total: 2, Done: 2, Failed: []int{}, Complete: true, CompletedAt: ago(time.Minute),
			Stalled: &ddb.OrderStall{Tickets: []int{2}, DispatchFailed: true, Reason: "SES: paused", Since: now}},
			[]string{"`busywork batch repair o`", "--lane default --type dispatch_tickets"}},
		{"overdue with nothing recorded", ddb.OrderStatus{OrderID: "quiet", Total: 1, Done: 1, Failed: []int{}, Complete: true,
			CompletedAt: ago(handlers.DispatchOverdue + time.Minute)},
			[]string{"`busywork batch repair quiet`", "16m0s ago", "dispatch_tickets job of this order still waits in lane default"}},
		{"dispatched", ddb.OrderStatus{OrderID: "o", Total: 2, Done: 2, Failed: []int{}, Complete: true, CompletedAt: ago(time.Hour),
			Dispatched: true, DispatchedAt: ago(time.Hour)},
			nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := handlers.OrderAction(tt.st, now, laneOf)
			if len(tt.want) == 0 && got != "" {
				t.Fatalf("OrderAction = %q, want none", got)
			}
			for _, want := range tt.want {
				if !strings.Contains(got, want) {
					t.Errorf("OrderAction = %q, want it to hold %q", got, want)
				}
			}
		})
	}
}
