package ddb_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	smithymw "github.com/aws/smithy-go/middleware"

	"github.com/busywork/busywork/ddb"
	"github.com/busywork/busywork/internal/testenv"
)

// calls counts the DynamoDB API calls a client makes, by operation name.
type calls struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *calls) get(op string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[op]
}

func (c *calls) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.n)
}

// countingStore returns a Store on a fresh table whose client's calls are
// counted, the counts, the client and the table's name.
func countingStore(t *testing.T) (*ddb.Store, *calls, *dynamodb.Client, string) {
	t.Helper()
	c := &calls{n: map[string]int{}}
	count := smithymw.InitializeMiddlewareFunc("countCalls", func(ctx context.Context, in smithymw.InitializeInput, next smithymw.InitializeHandler) (smithymw.InitializeOutput, smithymw.Metadata, error) {
		c.mu.Lock()
		c.n[middleware.GetOperationName(ctx)]++
		c.mu.Unlock()
		return next.HandleInitialize(ctx, in)
	})
	client := testenv.DynamoDB(t, func(o *dynamodb.Options) {
		o.APIOptions = append(o.APIOptions, func(s *smithymw.Stack) error {
			return s.Initialize.Add(count, smithymw.After)
		})
	})
	table := testenv.NewTable(t, client)
	return ddb.New(client, table), c, client, table
}

// markAll marks children from..to of batch id done with at most workers
// calls at a time and returns how many calls reported the batch complete.
func markAll(ctx context.Context, t *testing.T, store *ddb.Store, id string, from, to, workers int) int {
	t.Helper()
	children := make(chan int)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		complete int
	)
	for range workers {
		wg.Go(func() {
			for n := range children {
				done, err := store.MarkChildDone(ctx, id, n)
				if err != nil {
					t.Errorf("MarkChildDone(%d): %v", n, err)
				}
				if done {
					mu.Lock()
					complete++
					mu.Unlock()
				}
			}
		})
	}
	for n := from; n <= to; n++ {
		children <- n
	}
	close(children)
	wg.Wait()
	return complete
}

func getBatch(ctx context.Context, t *testing.T, store *ddb.Store, id string) ddb.Batch {
	t.Helper()
	b, err := store.GetBatch(ctx, id)
	if err != nil {
		t.Fatalf("GetBatch(%s): %v", id, err)
	}
	return b
}

func TestBatch_CreateIsIdempotentAndRefusesAnotherTotal(t *testing.T) {
	store, clk, _, _ := newStore(t)
	ctx := testCtx(t)

	if created, err := store.CreateBatch(ctx, "order-1", 3, nil, time.Hour); err != nil || !created {
		t.Fatalf("first CreateBatch = %v, %v; want created", created, err)
	}
	clk.Add(time.Minute)
	if created, err := store.CreateBatch(ctx, "order-1", 3, nil, time.Hour); err != nil || created {
		t.Fatalf("repeated CreateBatch = %v, %v; want not created, no error", created, err)
	}
	if _, err := store.CreateBatch(ctx, "order-1", 4, nil, time.Hour); err == nil {
		t.Fatal("CreateBatch with another total succeeded, want an error")
	}
	b := getBatch(ctx, t, store, "order-1")
	if b.ID != "order-1" || b.Total != 3 || len(b.Done) != 0 || len(b.Failed) != 0 || b.Complete() || b.Dispatched() {
		t.Errorf("batch = %+v, want 3 children, none done or failed, not complete or dispatched", b)
	}
	if want := clk.Now().Add(-time.Minute).Unix(); b.CreatedAt.Unix() != want || !b.CompletedAt.IsZero() {
		t.Errorf("CreatedAt %v, CompletedAt %v; want the first create's time and zero", b.CreatedAt, b.CompletedAt)
	}
	for _, total := range []int{0, -1, ddb.MaxBatchChildren + 1} {
		if _, err := store.CreateBatch(ctx, "order-2", total, nil, 0); err == nil {
			t.Errorf("CreateBatch of %d children succeeded, want an error", total)
		}
	}
}

func TestBatch_RedeliveredChildCountsOnce(t *testing.T) {
	store, _, _, _ := newStore(t)
	ctx := testCtx(t)

	if _, err := store.CreateBatch(ctx, "b", 3, nil, 0); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if complete, err := store.MarkChildDone(ctx, "b", 2); err != nil || complete {
			t.Fatalf("MarkChildDone(2) = %v, %v; want not complete", complete, err)
		}
	}
	if b := getBatch(ctx, t, store, "b"); !slices.Equal(b.Done, []int{2}) || b.Complete() {
		t.Fatalf("after child 2 twice: done %v, complete %v; want [2], false", b.Done, b.Complete())
	}
	if complete, err := store.MarkChildDone(ctx, "b", 1); err != nil || complete {
		t.Fatalf("MarkChildDone(1) = %v, %v; want not complete: child 2 counted twice?", complete, err)
	}
}

func TestBatch_LastChildAndItsRedeliveryReportComplete(t *testing.T) {
	store, clk, _, _ := newStore(t)
	ctx := testCtx(t)

	if _, err := store.CreateBatch(ctx, "b", 2, nil, 0); err != nil {
		t.Fatal(err)
	}
	if complete, err := store.MarkChildDone(ctx, "b", 2); err != nil || complete {
		t.Fatalf("MarkChildDone(2) = %v, %v; want not complete", complete, err)
	}
	clk.Add(time.Minute)
	if complete, err := store.MarkChildDone(ctx, "b", 1); err != nil || !complete {
		t.Fatalf("last child: MarkChildDone(1) = %v, %v; want complete", complete, err)
	}
	completedAt := clk.Now().Unix()
	// The worker died before enqueuing the follow-up: the redeliveries of
	// both children must still learn that the batch is complete.
	clk.Add(time.Minute)
	for _, n := range []int{1, 2} {
		if complete, err := store.MarkChildDone(ctx, "b", n); err != nil || !complete {
			t.Fatalf("redelivered MarkChildDone(%d) = %v, %v; want complete", n, complete, err)
		}
	}
	b := getBatch(ctx, t, store, "b")
	if !b.Complete() || !slices.Equal(b.Done, []int{1, 2}) || b.CompletedAt.Unix() != completedAt {
		t.Errorf("batch = %+v; want complete, done [1 2], completed when child 1 was first counted (%d)", b, completedAt)
	}
}

func TestBatch_LastTwoChildrenAtOnceCompleteItOnce(t *testing.T) {
	store, _, _, _ := newStore(t)
	ctx := testCtx(t)

	const total, rounds = 10, 10
	for round := range rounds {
		id := fmt.Sprintf("b-%d", round)
		if _, err := store.CreateBatch(ctx, id, total, nil, 0); err != nil {
			t.Fatal(err)
		}
		markAll(ctx, t, store, id, 1, total-2, 1)
		var (
			wg       sync.WaitGroup
			start    = make(chan struct{})
			reported [2]bool
		)
		for i := range 2 {
			wg.Go(func() {
				<-start
				complete, err := store.MarkChildDone(ctx, id, total-1+i)
				if err != nil {
					t.Errorf("MarkChildDone(%d): %v", total-1+i, err)
				}
				reported[i] = complete
			})
		}
		close(start)
		wg.Wait()
		// Both are counted; whichever landed second took remaining to 0.
		if reported[0] == reported[1] {
			t.Errorf("round %d: children %d and %d reported complete %v and %v, want exactly one",
				round, total-1, total, reported[0], reported[1])
		}
		if b := getBatch(ctx, t, store, id); !b.Complete() || len(b.Done) != total {
			t.Errorf("round %d: done %v, want all %d", round, b.Done, total)
		}
	}
}

func TestBatch_FailedChildThenDoneClearsTheFailure(t *testing.T) {
	store, _, _, _ := newStore(t)
	ctx := testCtx(t)

	if _, err := store.CreateBatch(ctx, "b", 3, nil, 0); err != nil {
		t.Fatal(err)
	}
	if err := store.MarkChildFailed(ctx, "b", 2, "render timed out"); err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("é", 1000) // 2000 bytes: the cut must not split a character
	if err := store.MarkChildFailed(ctx, "b", 3, long); err != nil {
		t.Fatal(err)
	}
	b := getBatch(ctx, t, store, "b")
	if len(b.Failed) != 2 || b.Failed[2] != "render timed out" {
		t.Fatalf("failed = %v, want 2 and 3, 2 with its reason", b.Failed)
	}
	if r := b.Failed[3]; len(r) == 0 || len(r) > 300 || !utf8.ValidString(r) || !strings.HasPrefix(long, r) {
		t.Errorf("long reason stored as %d bytes (valid UTF-8 %v), want a prefix of a few hundred bytes", len(r), utf8.ValidString(r))
	}
	if err := store.MarkChildFailed(ctx, "b", 2, "PDF too large"); err != nil {
		t.Fatal(err)
	}
	if b := getBatch(ctx, t, store, "b"); b.Failed[2] != "PDF too large" {
		t.Errorf("after a second failure: %q, want the latest reason", b.Failed[2])
	}
	// Replayed from the DLQ once fixed: child 2 succeeds.
	if _, err := store.MarkChildDone(ctx, "b", 2); err != nil {
		t.Fatal(err)
	}
	// A late failure report of a child that is done changes nothing.
	if err := store.MarkChildFailed(ctx, "b", 2, "stale"); err != nil {
		t.Fatal(err)
	}
	b = getBatch(ctx, t, store, "b")
	if _, ok := b.Failed[2]; ok || len(b.Failed) != 1 || !slices.Equal(b.Done, []int{2}) {
		t.Errorf("failed %v, done %v; want only 3 failed and 2 done", b.Failed, b.Done)
	}
}

func TestBatch_ThousandChildrenCompleteOnce(t *testing.T) {
	store, _, _, _ := newStore(t)
	ctx := testCtx(t)

	const total = 1000 // the largest ticket order of the demo (demo.MaxTickets)
	if _, err := store.CreateBatch(ctx, "order", total, nil, 0); err != nil {
		t.Fatal(err)
	}
	// Every tenth child fails first, so the item also carries failures
	// while it grows.
	for n := 10; n <= total; n += 10 {
		if err := store.MarkChildFailed(ctx, "order", n, strings.Repeat("x", 200)); err != nil {
			t.Fatalf("MarkChildFailed(%d): %v", n, err)
		}
	}
	if got := markAll(ctx, t, store, "order", 1, total, 8); got != 1 {
		t.Fatalf("%d calls reported the batch complete, want exactly 1 (the last child counted)", got)
	}
	b := getBatch(ctx, t, store, "order")
	if !b.Complete() || len(b.Done) != total || len(b.Failed) != 0 {
		t.Errorf("%d done, %d failed, complete %v; want all %d done, none failed", len(b.Done), len(b.Failed), b.Complete(), total)
	}
}

// writeBatch applies update to batch id's item directly, to write in one
// call the state that thousands of Store calls would leave: they take
// minutes on DynamoDB Local, whose every update rewrites the whole item.
func writeBatch(ctx context.Context, t *testing.T, client *dynamodb.Client, table, id, update string, names map[string]string, values map[string]types.AttributeValue) {
	t.Helper()
	_, err := client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(table),
		Key: map[string]types.AttributeValue{
			"pk": &types.AttributeValueMemberS{Value: "BATCH#" + id},
			"sk": &types.AttributeValueMemberS{Value: "BATCH"},
		},
		UpdateExpression:          aws.String(update),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
	})
	if err != nil {
		t.Fatalf("write batch %s: %s: %v", id, update, err)
	}
}

func TestBatch_TenThousandChildrenFitOneItemAndReadInOneCall(t *testing.T) {
	store, calls, client, table := countingStore(t)
	ctx := testCtx(t)

	const total, last = ddb.MaxBatchChildren, 20
	if _, err := store.CreateBatch(ctx, "big", total, nil, 0); err != nil {
		t.Fatal(err)
	}
	var set []string
	for n := 1; n <= total-last; n++ {
		set = append(set, strconv.Itoa(n))
	}
	writeBatch(ctx, t, client, table, "big", "ADD #done :set, #remaining :minus",
		map[string]string{"#done": "done", "#remaining": "remaining"},
		map[string]types.AttributeValue{
			":set":   &types.AttributeValueMemberNS{Value: set},
			":minus": &types.AttributeValueMemberN{Value: strconv.Itoa(-len(set))},
		})
	// The last children fail first, then all of them and some earlier
	// ones (redelivered) are marked done at once on the full-size item.
	for n := total - last + 1; n <= total; n++ {
		if err := store.MarkChildFailed(ctx, "big", n, strings.Repeat("x", 200)); err != nil {
			t.Fatalf("MarkChildFailed(%d): %v", n, err)
		}
	}
	if got := markAll(ctx, t, store, "big", total-last+1, total, 8); got != 1 {
		t.Fatalf("%d calls reported the batch complete, want exactly 1 (the last child counted)", got)
	}
	if got := markAll(ctx, t, store, "big", 1, last, 8); got != last {
		t.Fatalf("%d of %d redelivered children learnt the batch is complete, want all", got, last)
	}
	calls.reset()
	b := getBatch(ctx, t, store, "big")
	if n := calls.get("GetItem"); n != 1 {
		t.Errorf("GetBatch made %d GetItem calls, want 1", n)
	}
	if !b.Complete() || len(b.Done) != total || b.Done[0] != 1 || b.Done[total-1] != total || !slices.IsSorted(b.Done) {
		t.Errorf("done: %d children, complete %v; want 1..%d in order", len(b.Done), b.Complete(), total)
	}
	if len(b.Failed) != 0 || b.CompletedAt.IsZero() {
		t.Errorf("failed %d, completed at %v; want none failed and a completion time", len(b.Failed), b.CompletedAt)
	}
}

func TestBatch_TenThousandFailuresFitOneItem(t *testing.T) {
	store, _, client, table := countingStore(t)
	ctx := testCtx(t)

	const total = ddb.MaxBatchChildren
	if _, err := store.CreateBatch(ctx, "b", total, nil, 0); err != nil {
		t.Fatal(err)
	}
	// The worst case: every child fails, the first thousand with long
	// reasons. Children 1..9990 are written in one update; the rest go
	// through the API.
	long := strings.Repeat("r", 256)
	failed := map[string]types.AttributeValue{}
	for n := 1; n <= total-10; n++ {
		reason := ""
		if n <= 1000 {
			reason = long
		}
		failed[strconv.Itoa(n)] = &types.AttributeValueMemberS{Value: reason}
	}
	writeBatch(ctx, t, client, table, "b", "SET #failed = :failed", map[string]string{"#failed": "failed"},
		map[string]types.AttributeValue{":failed": &types.AttributeValueMemberM{Value: failed}})
	for n := total - 9; n <= total; n++ {
		if err := store.MarkChildFailed(ctx, "b", n, long); err != nil {
			t.Fatalf("MarkChildFailed(%d): %v", n, err)
		}
	}
	b := getBatch(ctx, t, store, "b")
	if len(b.Failed) != total || b.Failed[1000] != long || b.Failed[total] != "" {
		t.Fatalf("%d failed, reasons of 1000 and %d: %d and %d bytes; want all failed, only the first thousand reasons kept",
			len(b.Failed), total, len(b.Failed[1000]), len(b.Failed[total]))
	}
	// Once the cause is fixed, children succeed on the same item.
	if got := markAll(ctx, t, store, "b", total-19, total, 8); got != 0 {
		t.Fatalf("%d calls reported an incomplete batch complete", got)
	}
	if b := getBatch(ctx, t, store, "b"); len(b.Failed) != total-20 || len(b.Done) != 20 {
		t.Errorf("%d failed and %d done, want %d and 20", len(b.Failed), len(b.Done), total-20)
	}
}

func TestBatch_FailureBeyondAThousandKeepsNoReason(t *testing.T) {
	store, _, _, _ := newStore(t)
	ctx := testCtx(t)

	if _, err := store.CreateBatch(ctx, "b", 1002, nil, 0); err != nil {
		t.Fatal(err)
	}
	children := make(chan int)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for n := range children {
				if err := store.MarkChildFailed(ctx, "b", n, "boom"); err != nil {
					t.Errorf("MarkChildFailed(%d): %v", n, err)
				}
			}
		})
	}
	for n := 1; n <= 1001; n++ {
		children <- n
	}
	close(children)
	wg.Wait()
	b := getBatch(ctx, t, store, "b")
	var kept int
	for _, reason := range b.Failed {
		if reason == "boom" {
			kept++
		}
	}
	if len(b.Failed) != 1001 || kept != 1000 {
		t.Errorf("%d failed, %d with their reason; want 1001 and 1000", len(b.Failed), kept)
	}
}

func TestBatch_UnknownOrExpiredIsNotFound(t *testing.T) {
	store, clk, _, _ := newStore(t)
	ctx := testCtx(t)

	if _, err := store.GetBatch(ctx, "nope"); !errors.Is(err, ddb.ErrNotFound) {
		t.Errorf("GetBatch: %v, want ErrNotFound", err)
	}
	if _, err := store.MarkChildDone(ctx, "nope", 1); !errors.Is(err, ddb.ErrNotFound) {
		t.Errorf("MarkChildDone: %v, want ErrNotFound", err)
	}
	if err := store.MarkChildFailed(ctx, "nope", 1, "x"); !errors.Is(err, ddb.ErrNotFound) {
		t.Errorf("MarkChildFailed: %v, want ErrNotFound", err)
	}
	if err := store.MarkBatchDispatched(ctx, "nope"); !errors.Is(err, ddb.ErrNotFound) {
		t.Errorf("MarkBatchDispatched: %v, want ErrNotFound", err)
	}

	if _, err := store.CreateBatch(ctx, "b", 2, nil, time.Hour); err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{0, 3} {
		_, err := store.MarkChildDone(ctx, "b", n)
		if err == nil || errors.Is(err, ddb.ErrNotFound) {
			t.Errorf("MarkChildDone(%d) of 2 children: %v, want an error other than ErrNotFound", n, err)
		}
		if err := store.MarkChildFailed(ctx, "b", n, "x"); err == nil || errors.Is(err, ddb.ErrNotFound) {
			t.Errorf("MarkChildFailed(%d) of 2 children: %v, want an error other than ErrNotFound", n, err)
		}
	}
	if b := getBatch(ctx, t, store, "b"); len(b.Done) != 0 || len(b.Failed) != 0 {
		t.Fatalf("out-of-range children changed the batch: %+v", b)
	}

	// Past its ttl, the batch is gone as if DynamoDB's TTL had run.
	if _, err := store.MarkChildDone(ctx, "b", 1); err != nil {
		t.Fatal(err)
	}
	clk.Add(time.Hour + time.Second)
	if _, err := store.GetBatch(ctx, "b"); !errors.Is(err, ddb.ErrNotFound) {
		t.Errorf("GetBatch after the ttl: %v, want ErrNotFound", err)
	}
	if _, err := store.MarkChildDone(ctx, "b", 2); !errors.Is(err, ddb.ErrNotFound) {
		t.Errorf("MarkChildDone after the ttl: %v, want ErrNotFound", err)
	}
	if created, err := store.CreateBatch(ctx, "b", 5, nil, time.Hour); err != nil || !created {
		t.Errorf("CreateBatch over an expired batch = %v, %v; want created", created, err)
	}
	if b := getBatch(ctx, t, store, "b"); b.Total != 5 || len(b.Done) != 0 {
		t.Errorf("recreated batch = %+v, want 5 children, none done", b)
	}
}

func TestBatch_DispatchIsRecordedOnceAndOnlyWhenComplete(t *testing.T) {
	store, clk, _, _ := newStore(t)
	ctx := testCtx(t)

	if _, err := store.CreateBatch(ctx, "b", 2, nil, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := store.MarkChildDone(ctx, "b", 1); err != nil {
		t.Fatal(err)
	}
	if err := store.MarkBatchDispatched(ctx, "b"); err == nil || errors.Is(err, ddb.ErrNotFound) {
		t.Fatalf("MarkBatchDispatched of an incomplete batch: %v, want an error", err)
	}
	if b := getBatch(ctx, t, store, "b"); b.Dispatched() {
		t.Fatal("an incomplete batch was marked dispatched")
	}
	if _, err := store.MarkChildDone(ctx, "b", 2); err != nil {
		t.Fatal(err)
	}
	if err := store.MarkBatchDispatched(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	first := clk.Now().Unix()
	clk.Add(time.Minute)
	if err := store.MarkBatchDispatched(ctx, "b"); err != nil {
		t.Fatalf("repeated MarkBatchDispatched: %v, want nil", err)
	}
	if b := getBatch(ctx, t, store, "b"); !b.Dispatched() || b.DispatchedAt.Unix() != first {
		t.Errorf("DispatchedAt = %v, want the first mark's time", b.DispatchedAt)
	}
}

func TestBatch_TheFollowUpsEnqueueIsClaimedByOneWorkerAtATimeUntilItIsRecordedSent(t *testing.T) {
	store, clk, _, _ := newStore(t)
	ctx := testCtx(t)
	f := &ddb.FollowUpJob{Type: "assemble", Fields: []byte(`{"group":"b"}`)}
	if _, err := store.CreateBatch(ctx, "b", 2, f, 0); err != nil {
		t.Fatal(err)
	}
	markAll(ctx, t, store, "b", 1, 1, 1)
	if _, err := store.ClaimFollowUp(ctx, "b", time.Minute); !errors.Is(err, ddb.ErrIncomplete) {
		t.Fatalf("ClaimFollowUp of an incomplete batch: %v, want ErrIncomplete", err)
	}
	if _, err := store.ClaimFollowUp(ctx, "nope", time.Minute); !errors.Is(err, ddb.ErrNotFound) {
		t.Fatalf("ClaimFollowUp of an unknown batch: %v, want ErrNotFound", err)
	}
	markAll(ctx, t, store, "b", 2, 2, 1)

	first, err := store.ClaimFollowUp(ctx, "b", time.Minute)
	if err != nil || !first.Claimed || first.Sent || first.Batch.FollowUp == nil ||
		first.Batch.FollowUp.Type != "assemble" || string(first.Batch.FollowUp.Fields) != `{"group":"b"}` {
		t.Fatalf("first claim: %+v, %v; want it claimed, with the follow-up job", first, err)
	}
	second, err := store.ClaimFollowUp(ctx, "b", time.Minute)
	if err != nil || second.Claimed || second.Sent || second.Until.Before(clk.Now().Add(59*time.Second)) {
		t.Fatalf("claim while another holds it: %+v, %v; want refused until the first's lease ends", second, err)
	}
	// The holder's send failed: it releases, and the next claim holds.
	if err := store.ReleaseFollowUp(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	if c, err := store.ClaimFollowUp(ctx, "b", time.Minute); err != nil || !c.Claimed {
		t.Fatalf("claim after a release: %+v, %v; want it claimed", c, err)
	}
	// That holder dies: its claim ends with its lease.
	clk.Add(time.Minute + time.Second)
	if c, err := store.ClaimFollowUp(ctx, "b", time.Minute); err != nil || !c.Claimed {
		t.Fatalf("claim after the lease ended: %+v, %v; want it claimed", c, err)
	}
	if err := store.MarkFollowUpSent(ctx, "b"); err != nil {
		t.Fatal(err)
	}
	if err := store.MarkFollowUpSent(ctx, "b"); err != nil {
		t.Fatalf("MarkFollowUpSent again: %v", err)
	}
	clk.Add(2 * time.Minute)
	c, err := store.ClaimFollowUp(ctx, "b", time.Minute)
	if err != nil || c.Claimed || !c.Sent || c.Batch.FollowUpSentAt.IsZero() {
		t.Fatalf("claim after the send was recorded: %+v, %v; want Sent and not claimed", c, err)
	}
}
