package ddb_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/busywork/busywork/ddb"
)

func TestScanBatches_FindsTheBatchesThatWantALookPageByPage(t *testing.T) {
	store, calls, client, table := countingStore(t)
	scanner := ddb.NewScanner(client, table)
	ctx := context.Background()
	create := func(id string, total int) {
		t.Helper()
		if _, err := store.CreateBatch(ctx, id, total, &ddb.FollowUpJob{Type: "ping", Fields: []byte(`{}`)}, 0); err != nil {
			t.Fatal(err)
		}
	}
	done := func(id string, ns ...int) {
		t.Helper()
		for _, n := range ns {
			if _, err := store.MarkChildDone(ctx, id, n); err != nil {
				t.Fatal(err)
			}
		}
	}
	create("running", 2) // one child to go, none failed: nothing to look at
	done("running", 1)
	create("failed", 2)
	done("failed", 1)
	if err := store.MarkChildFailed(ctx, "failed", 2, "render: boom"); err != nil {
		t.Fatal(err)
	}
	create("stalled", 1)
	done("stalled", 1)
	if err := store.MarkBatchStalled(ctx, "stalled", 1, "send: SQS said no"); err != nil {
		t.Fatal(err)
	}
	create("pending", 1) // complete, its follow-up not run (yet, or lost)
	done("pending", 1)
	create("finished", 1)
	done("finished", 1)
	if err := store.MarkBatchDispatched(ctx, "finished"); err != nil {
		t.Fatal(err)
	}
	// Items of other kinds are read but not returned.
	for _, email := range []string{"ada@example.com", "bob@example.com", "cy@example.com"} {
		if err := store.PutUser(ctx, email, "x"); err != nil {
			t.Fatal(err)
		}
	}
	calls.reset()

	all, err := scanner.ScanBatches(ctx, ddb.ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, b := range all.Batches {
		ids = append(ids, b.ID)
	}
	slices.Sort(ids)
	if want := []string{"failed", "pending", "stalled"}; !slices.Equal(ids, want) || all.Scanned != 8 || all.Next != "" {
		t.Fatalf("ScanBatches = %v, scanned %d, next %q; want %v of the 8 items and no cursor", ids, all.Scanned, all.Next, want)
	}
	for _, b := range all.Batches {
		switch b.ID {
		case "failed":
			if b.Failed[2] != "render: boom" || len(b.Done) != 1 {
				t.Errorf("failed batch read as %+v", b)
			}
		case "stalled":
			if b.Stall == nil || b.Stall.Reason != "send: SQS said no" || !b.Complete() {
				t.Errorf("stalled batch read as %+v", b)
			}
		}
	}
	if n := calls.get("Scan"); n != 1 {
		t.Errorf("%d Scan calls for 8 items, want 1", n)
	}

	// Three items at a time: the cursor carries on where a page ended,
	// and the pages together find the same batches.
	var paged []string
	opts := ddb.ScanOptions{Items: 3}
	for pages := 1; ; pages++ {
		page, err := scanner.ScanBatches(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		if page.Scanned > 3 {
			t.Errorf("page %d read %d items, want at most 3", pages, page.Scanned)
		}
		for _, b := range page.Batches {
			paged = append(paged, b.ID)
		}
		if page.Next == "" {
			break
		}
		if pages > 4 {
			t.Fatalf("more than 4 pages of 3 for 8 items")
		}
		opts.Cursor = page.Next
	}
	slices.Sort(paged)
	if !slices.Equal(paged, ids) {
		t.Errorf("paged scan found %v, want %v", paged, ids)
	}

	if _, err := scanner.ScanBatches(ctx, ddb.ScanOptions{Cursor: "not-a-cursor"}); !errors.Is(err, ddb.ErrBadCursor) {
		t.Errorf("a made-up cursor: %v, want ErrBadCursor", err)
	}
}

func TestScanBatches_SkipsExpiredBatches(t *testing.T) {
	store, _, client, table := countingStore(t)
	ctx := context.Background()
	if _, err := store.CreateBatch(ctx, "old", 1, nil, time.Second); err != nil {
		t.Fatal(err)
	}
	if _, err := store.MarkChildDone(ctx, "old", 1); err != nil {
		t.Fatal(err)
	}
	later := ddb.NewScanner(client, table, func(o *ddb.Options) { o.Now = func() time.Time { return time.Now().Add(time.Hour) } })
	page, err := later.ScanBatches(ctx, ddb.ScanOptions{})
	if err != nil || len(page.Batches) != 0 {
		t.Fatalf("ScanBatches an hour after the batch expired: %v, %v; want none", page.Batches, err)
	}
}
