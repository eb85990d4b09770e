package claim

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/busywork/busywork/consumer"
	"github.com/busywork/busywork/ddb"
	"github.com/busywork/busywork/internal/testenv"
)

func TestClaimEnd_IsTheDeadlinePlusTheConsumersHungGrace(t *testing.T) {
	deadline := time.Now().Add(time.Minute)
	withDeadline, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	tests := []struct {
		name string
		ctx  context.Context
		want time.Time
	}{
		{"through the consumer", consumer.WithDelivery(withDeadline, consumer.Delivery{ID: "j", HungGrace: 10 * time.Second}), deadline.Add(10 * time.Second)},
		{"a delivery without grace", consumer.WithDelivery(withDeadline, consumer.Delivery{ID: "j"}), deadline},
		{"no deadline", context.Background(), time.Now().Add(consumer.DefaultTimeout)},
	}
	for _, tt := range tests {
		if got := claimEnd(tt.ctx); got.Sub(tt.want).Abs() > time.Second {
			t.Errorf("%s: claimEnd = %s, want %s", tt.name, got, tt.want)
		}
	}
	if got := leaseUntil(time.Now().Add(2 * time.Second)); got > 2*time.Second || got < time.Second {
		t.Errorf("lease 2 s before the end = %s, want at most what is left", got)
	}
	if got := leaseUntil(time.Now().Add(time.Hour)); got != Lease {
		t.Errorf("lease an hour before the end = %s, want Lease", got)
	}
}

func TestOnce_LosingTheClaimCancelsTheWork(t *testing.T) {
	client := testenv.DynamoDB(t)
	store := ddb.New(client, testenv.NewTable(t, client))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	err := Once(ctx, store, "job-1", "test work", slog.New(slog.DiscardHandler), func(ctx context.Context) (string, error) {
		// Another attempt finishes the job meanwhile (as one that took over
		// a lapsed claim would): the next renewal finds the claim lost.
		if err := store.CompleteJob(ctx, "job-1", "by the other attempt"); err != nil {
			return "", err
		}
		<-ctx.Done()
		return "", context.Cause(ctx)
	})
	if !errors.Is(err, ddb.ErrClaimLost) {
		t.Fatalf("once = %v, want an error wrapping ddb.ErrClaimLost", err)
	}
	if ctx.Err() != nil {
		t.Fatal("the work ended with the test's context, not with the lost claim")
	}
	c, err := store.ClaimJob(ctx, "job-1", time.Minute)
	if err != nil || !c.Done || c.Result != "by the other attempt" {
		t.Fatalf("claim after = %+v, %v; want the other attempt's result kept", c, err)
	}
}
