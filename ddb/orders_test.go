package ddb_test

import (
	"bytes"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/busywork/busywork/ddb"
)

func TestOrder_PutIsIdempotentAndGetReturnsIt(t *testing.T) {
	store, clk, _, _ := newStore(t)
	ctx := testCtx(t)

	o := ddb.Order{ID: "o-1", Email: "ada@example.com", Event: "Spring gala", Tickets: 3}
	if created, err := store.PutOrder(ctx, o, time.Hour); err != nil || !created {
		t.Fatalf("PutOrder = %v, %v; want created", created, err)
	}
	again := o
	again.Event = "Something else"
	if created, err := store.PutOrder(ctx, again, time.Hour); err != nil || created {
		t.Fatalf("repeated PutOrder = %v, %v; want not created, no error", created, err)
	}
	got, err := store.GetOrder(ctx, "o-1")
	if err != nil {
		t.Fatal(err)
	}
	o.CreatedAt = time.Unix(clk.Now().Unix(), 0)
	if got != o {
		t.Errorf("GetOrder = %+v, want the first order %+v", got, o)
	}
	if _, err := store.GetOrder(ctx, "o-2"); !errors.Is(err, ddb.ErrNotFound) {
		t.Errorf("GetOrder of an unknown id: %v, want ErrNotFound", err)
	}
	clk.Add(time.Hour + time.Second)
	if _, err := store.GetOrder(ctx, "o-1"); !errors.Is(err, ddb.ErrNotFound) {
		t.Errorf("GetOrder after the ttl: %v, want ErrNotFound", err)
	}
}

// pdf returns size bytes that differ for each ticket number n.
func pdf(n, size int) []byte {
	return bytes.Repeat([]byte{byte(n)}, size)
}

func TestOrder_TicketsComeBackInOrderOverSeveralPages(t *testing.T) {
	store, calls, _, _ := countingStore(t)
	ctx := testCtx(t)

	// 40 tickets of 100 KB are 4 MB: several of Query's 1 MB pages. They
	// are stored in no particular order, as workers would.
	const tickets, size = 40, 100 << 10
	var wg sync.WaitGroup
	for n := tickets; n >= 1; n-- {
		wg.Go(func() {
			if _, err := store.PutTicket(ctx, "o-1", n, pdf(n, size), 0); err != nil {
				t.Errorf("PutTicket(%d): %v", n, err)
			}
		})
	}
	wg.Wait()
	if _, err := store.PutTicket(ctx, "o-2", 1, pdf(99, 10), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := store.PutOrder(ctx, ddb.Order{ID: "o-1", Tickets: tickets}, 0); err != nil {
		t.Fatal(err)
	}

	calls.reset()
	got, err := store.Tickets(ctx, "o-1")
	if err != nil {
		t.Fatal(err)
	}
	if q := calls.get("Query"); q < 2 {
		t.Errorf("Tickets made %d Query calls, want several pages", q)
	}
	if len(got) != tickets {
		t.Fatalf("%d tickets, want %d (and not the order item or another order's ticket)", len(got), tickets)
	}
	for i, tk := range got {
		if tk.Number != i+1 || !bytes.Equal(tk.PDF, pdf(i+1, size)) {
			t.Fatalf("ticket %d: number %d, %d bytes; want number %d with its own PDF", i, tk.Number, len(tk.PDF), i+1)
		}
	}

	calls.reset()
	for n, want := range map[int]bool{1: true, tickets: true, tickets + 1: false} {
		if has, err := store.HasTicket(ctx, "o-1", n); err != nil || has != want {
			t.Errorf("HasTicket(%d) = %v, %v; want %v", n, has, err, want)
		}
	}
	if c := calls.get("GetItem"); c != 3 {
		t.Errorf("3 HasTicket calls made %d GetItem calls, want 3", c)
	}
}

func TestOrder_ATicketIsStoredOnceAndNeverOverwritten(t *testing.T) {
	store, _, _, _ := newStore(t)
	ctx := testCtx(t)
	for i, pdf := range []string{"%PDF first", "%PDF second"} {
		stored, err := store.PutTicket(ctx, "o-1", 1, []byte(pdf), 0)
		if err != nil || stored != (i == 0) {
			t.Fatalf("PutTicket #%d = %v, %v; want stored only the first time", i+1, stored, err)
		}
	}
	tickets, err := store.Tickets(ctx, "o-1")
	if err != nil || len(tickets) != 1 || string(tickets[0].PDF) != "%PDF first" {
		t.Fatalf("Tickets = %+v, %v; want the first PDF kept", tickets, err)
	}
}

func TestOrder_TicketOverTheLimitIsRefused(t *testing.T) {
	store, _, _, _ := newStore(t)
	ctx := testCtx(t)

	_, err := store.PutTicket(ctx, "o-1", 1, make([]byte, ddb.MaxTicketBytes+1), 0)
	if !errors.Is(err, ddb.ErrTicketTooLarge) {
		t.Fatalf("PutTicket over the limit: %v, want ErrTicketTooLarge", err)
	}
	if has, err := store.HasTicket(ctx, "o-1", 1); err != nil || has {
		t.Fatalf("HasTicket after a refused ticket = %v, %v; want false", has, err)
	}
	// The largest allowed ticket fits DynamoDB's item limit.
	if _, err := store.PutTicket(ctx, "o-1", 2, make([]byte, ddb.MaxTicketBytes), 0); err != nil {
		t.Fatalf("PutTicket of MaxTicketBytes: %v", err)
	}
	for _, n := range []int{0, -1} {
		if _, err := store.PutTicket(ctx, "o-1", n, []byte("x"), 0); err == nil {
			t.Errorf("PutTicket(%d) succeeded, want an error", n)
		}
	}
}

func TestOrder_EveryItemCarriesItsTTL(t *testing.T) {
	store, clk, client, table := newStore(t)
	ctx := testCtx(t)

	if _, err := store.CreateBatch(ctx, "o-1", 2, nil, 2*time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := store.MarkChildDone(ctx, "o-1", 1); err != nil {
		t.Fatal(err)
	}
	if err := store.MarkChildFailed(ctx, "o-1", 2, "boom"); err != nil {
		t.Fatal(err)
	}
	if _, err := store.PutOrder(ctx, ddb.Order{ID: "o-1", Tickets: 2}, 2*time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := store.PutTicket(ctx, "o-1", 1, []byte("%PDF"), 2*time.Hour); err != nil {
		t.Fatal(err)
	}
	if _, err := store.PutOrder(ctx, ddb.Order{ID: "o-2", Tickets: 1}, 0); err != nil {
		t.Fatal(err)
	}
	out, err := client.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Items) != 4 {
		t.Fatalf("%d items, want a batch, two orders and a ticket", len(out.Items))
	}
	for _, item := range out.Items {
		pk := item["pk"].(*types.AttributeValueMemberS).Value
		ttl, ok := item["ttl"].(*types.AttributeValueMemberN)
		if !ok {
			t.Errorf("%s has no number attribute ttl", pk)
			continue
		}
		want := clk.Now().Add(2 * time.Hour).Unix()
		if pk == "ORDER#o-2" {
			want = clk.Now().Add(ddb.DefaultJobRetention).Unix()
		}
		if got, _ := strconv.ParseInt(ttl.Value, 10, 64); got < want || got > want+1 {
			t.Errorf("%s: ttl %d, want %d", pk, got, want)
		}
	}
}
