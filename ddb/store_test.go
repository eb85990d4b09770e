package ddb_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/busywork/busywork/ddb"
	"github.com/busywork/busywork/internal/testenv"
)

// newStore returns a Store on a fresh table of DynamoDB Local, the client
// and the table's name, with its clock starting now.
func newStore(t *testing.T) (*ddb.Store, *testenv.Clock, *dynamodb.Client, string) {
	t.Helper()
	client := testenv.DynamoDB(t)
	table := testenv.NewTable(t, client)
	clk := testenv.NewClock(time.Now())
	store := ddb.New(client, table, func(o *ddb.Options) { o.Now = clk.Now })
	return store, clk, client, table
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestNormalizeEmail(t *testing.T) {
	if got := ddb.NormalizeEmail("  Ada@Example.COM \n"); got != "ada@example.com" {
		t.Fatalf("NormalizeEmail = %q", got)
	}
}

func TestStore_FindsUserByNormalisedEmail(t *testing.T) {
	store, _, _, _ := newStore(t)
	ctx := testCtx(t)

	if err := store.PutUser(ctx, " Ada@Example.com ", "Ada"); err != nil {
		t.Fatal(err)
	}
	for _, email := range []string{"ada@example.com", " Ada@Example.com ", "ADA@EXAMPLE.COM"} {
		u, err := store.GetUser(ctx, email)
		if err != nil {
			t.Fatalf("GetUser(%q): %v", email, err)
		}
		if u.Email != "ada@example.com" || u.Name != "Ada" || u.CreatedAt.IsZero() {
			t.Errorf("GetUser(%q) = %+v, want ada@example.com, Ada and a creation time", email, u)
		}
	}
}

func TestStore_PutUserTwiceKeepsTheFirst(t *testing.T) {
	store, _, _, _ := newStore(t)
	ctx := testCtx(t)

	if err := store.PutUser(ctx, "ada@example.com", "Ada"); err != nil {
		t.Fatal(err)
	}
	if err := store.PutUser(ctx, "ADA@example.com", "Someone else"); err != nil {
		t.Fatalf("second PutUser: %v, want nil (idempotent create)", err)
	}
	u, err := store.GetUser(ctx, "ada@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if u.Name != "Ada" {
		t.Errorf("name = %q after a second PutUser, want the first, Ada", u.Name)
	}
}

func TestStore_UnknownUserIsNotFound(t *testing.T) {
	store, _, _, _ := newStore(t)
	ctx := testCtx(t)

	for _, email := range []string{"nobody@example.com", "", "  "} {
		if _, err := store.GetUser(ctx, email); !errors.Is(err, ddb.ErrNotFound) {
			t.Errorf("GetUser(%q) error = %v, want ErrNotFound", email, err)
		}
	}
}

func TestStore_TokenWorksOnceOnly(t *testing.T) {
	store, clk, _, _ := newStore(t)
	ctx := testCtx(t)

	token, err := store.CreateToken(ctx, " Ada@Example.com", 0)
	if err != nil {
		t.Fatal(err)
	}
	if raw, err := base64.RawURLEncoding.DecodeString(token); err != nil || len(raw) != 32 {
		t.Fatalf("token %q is not 32 bytes in unpadded base64url (err %v)", token, err)
	}
	email, err := store.ConsumeToken(ctx, token, clk.Now())
	if err != nil || email != "ada@example.com" {
		t.Fatalf("first ConsumeToken = %q, %v; want ada@example.com, nil", email, err)
	}
	if email, err := store.ConsumeToken(ctx, token, clk.Now()); !errors.Is(err, ddb.ErrInvalidToken) {
		t.Fatalf("second ConsumeToken = %q, %v; want ErrInvalidToken", email, err)
	}
}

func TestStore_PeekTokenNamesItsUserAndSpendsNothing(t *testing.T) {
	store, clk, _, _ := newStore(t)
	ctx := testCtx(t)

	token, err := store.CreateToken(ctx, " Ada@Example.com", 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 { // a mail scanner, then the user
		if email, err := store.PeekToken(ctx, token, clk.Now()); err != nil || email != "ada@example.com" {
			t.Fatalf("PeekToken %d = %q, %v; want ada@example.com, nil", i+1, email, err)
		}
	}
	if email, err := store.ConsumeToken(ctx, token, clk.Now()); err != nil || email != "ada@example.com" {
		t.Fatalf("ConsumeToken after peeks = %q, %v; want it unspent", email, err)
	}
	// Spent, expired, unknown or malformed: the same error as ConsumeToken's.
	expiring, _ := store.CreateToken(ctx, "bob@example.com", time.Minute)
	unknown := base64.RawURLEncoding.EncodeToString(make([]byte, 32))
	for name, tc := range map[string]struct {
		token string
		at    time.Time
	}{
		"spent":     {token, clk.Now()},
		"expired":   {expiring, clk.Now().Add(time.Minute + time.Second)},
		"unknown":   {unknown, clk.Now()},
		"malformed": {"not a token", clk.Now()},
	} {
		if _, err := store.PeekToken(ctx, tc.token, tc.at); !errors.Is(err, ddb.ErrInvalidToken) {
			t.Errorf("PeekToken of a %s token: %v, want ErrInvalidToken", name, err)
		}
	}
}

func TestStore_ExpiredTokenIsInvalid(t *testing.T) {
	store, clk, _, _ := newStore(t)
	ctx := testCtx(t)

	token, err := store.CreateToken(ctx, "ada@example.com", 0) // the default, 15 minutes
	if err != nil {
		t.Fatal(err)
	}
	late := clk.Now().Add(ddb.DefaultTokenTTL + time.Second)
	if _, err := store.ConsumeToken(ctx, token, late); !errors.Is(err, ddb.ErrInvalidToken) {
		t.Fatalf("ConsumeToken after expiry: %v, want ErrInvalidToken", err)
	}
	// The failed attempt spent nothing: within its lifetime the token works.
	if _, err := store.ConsumeToken(ctx, token, clk.Now().Add(ddb.DefaultTokenTTL-2*time.Second)); err != nil {
		t.Fatalf("ConsumeToken just before expiry: %v", err)
	}
}

func TestStore_UnknownOrMalformedTokenIsInvalid(t *testing.T) {
	store, clk, _, _ := newStore(t)
	ctx := testCtx(t)

	unknown := base64.RawURLEncoding.EncodeToString(make([]byte, 32))
	for _, token := range []string{unknown, "", "not a token", unknown[:20], unknown + "="} {
		if _, err := store.ConsumeToken(ctx, token, clk.Now()); !errors.Is(err, ddb.ErrInvalidToken) {
			t.Errorf("ConsumeToken(%q) error = %v, want ErrInvalidToken", token, err)
		}
	}
}

func TestStore_ConcurrentConsumesOfOneTokenHaveOneWinner(t *testing.T) {
	store, clk, _, _ := newStore(t)
	ctx := testCtx(t)

	token, err := store.CreateToken(ctx, "ada@example.com", 0)
	if err != nil {
		t.Fatal(err)
	}
	const n = 20
	var (
		wg      sync.WaitGroup
		start   = make(chan struct{})
		mu      sync.Mutex
		won     int
		invalid int
	)
	for range n {
		wg.Go(func() {
			<-start
			_, err := store.ConsumeToken(ctx, token, clk.Now())
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				won++
			case errors.Is(err, ddb.ErrInvalidToken):
				invalid++
			default:
				t.Errorf("ConsumeToken: %v", err)
			}
		})
	}
	close(start)
	wg.Wait()
	if won != 1 || invalid != n-1 {
		t.Fatalf("%d consumes succeeded and %d were invalid, want 1 and %d", won, invalid, n-1)
	}
}

func TestStore_StoresOnlyTheTokensHash(t *testing.T) {
	store, _, client, table := newStore(t)
	ctx := testCtx(t)

	token, err := store.CreateToken(ctx, "ada@example.com", 0)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.RawURLEncoding.DecodeString(token)
	out, err := client.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Items) != 1 {
		t.Fatalf("table holds %d items, want 1 token item", len(out.Items))
	}
	item := out.Items[0]
	for name, v := range item {
		if s, ok := v.(*types.AttributeValueMemberS); ok {
			if strings.Contains(s.Value, token) || strings.Contains(s.Value, string(raw)) {
				t.Errorf("attribute %s holds the token itself: %q", name, s.Value)
			}
		}
	}
	if _, ok := item["ttl"].(*types.AttributeValueMemberN); !ok {
		t.Errorf("token item has no number attribute ttl: %v", item)
	}
}

func TestStore_RateLimitAllowsFiveAnHourThenRefuses(t *testing.T) {
	store, _, _, _ := newStore(t)
	ctx := testCtx(t)

	hour := time.Date(2030, 1, 2, 15, 0, 0, 0, time.UTC)
	for i := range ddb.DefaultLinkLimit {
		at := hour.Add(time.Duration(i) * time.Minute)
		ok, err := store.AllowLink(ctx, "ada@example.com", fmt.Sprintf("job-%d", i), at)
		if err != nil || !ok {
			t.Fatalf("link %d at %s: %v, %v; want allowed", i+1, at, ok, err)
		}
	}
	for _, at := range []time.Time{hour.Add(30 * time.Minute), hour.Add(time.Hour - time.Second)} {
		if ok, err := store.AllowLink(ctx, " ADA@example.com ", "job-6", at); err != nil || ok {
			t.Fatalf("link 6 at %s: %v, %v; want refused", at, ok, err)
		}
	}
	if ok, err := store.AllowLink(ctx, "bob@example.com", "job-6", hour.Add(30*time.Minute)); err != nil || !ok {
		t.Fatalf("another address: %v, %v; want allowed", ok, err)
	}
	if ok, err := store.AllowLink(ctx, "ada@example.com", "job-6", hour.Add(time.Hour)); err != nil || !ok {
		t.Fatalf("first link of the next hour: %v, %v; want allowed", ok, err)
	}
}

func TestStore_RateLimitCountsAJobOnceHoweverOftenItAsks(t *testing.T) {
	store, _, _, _ := newStore(t)
	ctx := testCtx(t)

	hour := time.Date(2030, 1, 2, 15, 0, 0, 0, time.UTC)
	// The first job asks as often as retries and redeliveries make it:
	// each time it is allowed, and it counts once.
	for i := range ddb.DefaultLinkLimit + 2 {
		if ok, err := store.AllowLink(ctx, "ada@example.com", "job-0", hour.Add(time.Duration(i)*time.Second)); err != nil || !ok {
			t.Fatalf("ask %d of job-0: %v, %v; want allowed", i+1, ok, err)
		}
	}
	// So four more jobs fit in the window, and the sixth does not.
	for i := 1; i < ddb.DefaultLinkLimit; i++ {
		if ok, err := store.AllowLink(ctx, "ada@example.com", fmt.Sprintf("job-%d", i), hour.Add(time.Minute)); err != nil || !ok {
			t.Fatalf("job-%d: %v, %v; want allowed (job-0 counted once)", i, ok, err)
		}
	}
	if ok, err := store.AllowLink(ctx, "ada@example.com", "job-5", hour.Add(time.Minute)); err != nil || ok {
		t.Fatalf("job-5: %v, %v; want refused", ok, err)
	}
	// A job counted before the limit was reached is still allowed again;
	// a refused one stays refused.
	if ok, err := store.AllowLink(ctx, "ada@example.com", "job-3", hour.Add(2*time.Minute)); err != nil || !ok {
		t.Fatalf("job-3 again: %v, %v; want allowed", ok, err)
	}
	if ok, err := store.AllowLink(ctx, "ada@example.com", "job-5", hour.Add(2*time.Minute)); err != nil || ok {
		t.Fatalf("job-5 again: %v, %v; want refused", ok, err)
	}
}

func TestStore_SecondClaimOfAJobIsRefused(t *testing.T) {
	store, clk, _, _ := newStore(t)
	ctx := testCtx(t)

	first, err := store.ClaimJob(ctx, "job-1", time.Minute)
	if err != nil || !first.Claimed || first.Owner == "" {
		t.Fatalf("first claim = %+v, %v; want claimed with an owner", first, err)
	}
	second, err := store.ClaimJob(ctx, "job-1", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if second.Claimed || second.Done {
		t.Fatalf("second claim = %+v, want neither claimed nor done", second)
	}
	if !second.LeaseUntil.Equal(first.LeaseUntil) || second.LeaseUntil.Before(clk.Now()) {
		t.Errorf("second claim's LeaseUntil = %s, want the first claim's, %s", second.LeaseUntil, first.LeaseUntil)
	}
	if other, err := store.ClaimJob(ctx, "job-2", time.Minute); err != nil || !other.Claimed {
		t.Errorf("claim of another job = %+v, %v; want claimed", other, err)
	}
}

func TestStore_CompletedJobIsDoneForEveryLaterClaim(t *testing.T) {
	store, clk, _, _ := newStore(t)
	ctx := testCtx(t)

	c, err := store.ClaimJob(ctx, "job-1", time.Minute)
	if err != nil || !c.Claimed {
		t.Fatalf("claim = %+v, %v", c, err)
	}
	if err := store.CompleteJob(ctx, "job-1", "sent ses-1"); err != nil {
		t.Fatal(err)
	}
	// Even long after the lease, a done job stays done.
	clk.Add(24 * time.Hour)
	again, err := store.ClaimJob(ctx, "job-1", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if !again.Done || again.Claimed || again.Result != "sent ses-1" {
		t.Fatalf("claim after CompleteJob = %+v, want done with result %q", again, "sent ses-1")
	}
	// Releasing with the old owner does not undo completion.
	if err := store.ReleaseJob(ctx, "job-1", c.Owner); err != nil {
		t.Fatal(err)
	}
	if again, _ := store.ClaimJob(ctx, "job-1", time.Minute); !again.Done {
		t.Fatalf("claim after a release of a done job = %+v, want done", again)
	}
	// After the retention, the record is gone as if DynamoDB's TTL had run.
	clk.Add(ddb.DefaultJobRetention)
	if late, err := store.ClaimJob(ctx, "job-1", time.Minute); err != nil || !late.Claimed {
		t.Fatalf("claim after the retention = %+v, %v; want claimed", late, err)
	}
}

func TestStore_StaleClaimIsTakenOverAfterItsLease(t *testing.T) {
	store, clk, _, _ := newStore(t)
	ctx := testCtx(t)

	dead, err := store.ClaimJob(ctx, "job-1", time.Minute)
	if err != nil || !dead.Claimed {
		t.Fatalf("claim = %+v, %v", dead, err)
	}
	clk.Add(time.Minute + time.Second)
	next, err := store.ClaimJob(ctx, "job-1", time.Minute)
	if err != nil || !next.Claimed || next.Owner == dead.Owner {
		t.Fatalf("claim after the lease ended = %+v, %v; want claimed by a new owner", next, err)
	}
	// The dead attempt's owner can no longer release the new claim.
	if err := store.ReleaseJob(ctx, "job-1", dead.Owner); err != nil {
		t.Fatal(err)
	}
	if c, _ := store.ClaimJob(ctx, "job-1", time.Minute); c.Claimed {
		t.Fatalf("claim after a stale owner's release = %+v, want still held", c)
	}
}

func TestStore_RenewedClaimIsNotTakenOverUntilItsNewLeaseEnds(t *testing.T) {
	store, clk, _, _ := newStore(t)
	ctx := testCtx(t)

	c, err := store.ClaimJob(ctx, "job-1", 5*time.Second)
	if err != nil || !c.Claimed {
		t.Fatalf("claim = %+v, %v", c, err)
	}
	// Renewed every 4 s for 20 s, the 5 s claim is never taken.
	for range 5 {
		clk.Add(4 * time.Second)
		until, err := store.RenewJob(ctx, "job-1", c.Owner, 5*time.Second)
		if err != nil || until.Before(clk.Now().Add(5*time.Second).Truncate(time.Second)) {
			t.Fatalf("RenewJob = %s, %v; want a lease until now + 5 s", until, err)
		}
		if other, err := store.ClaimJob(ctx, "job-1", 5*time.Second); err != nil || other.Claimed || !other.LeaseUntil.Equal(until) {
			t.Fatalf("claim while renewed = %+v, %v; want held until %s", other, err, until)
		}
	}
	// Once the renewals stop, the lease runs out and another takes over.
	clk.Add(6 * time.Second)
	next, err := store.ClaimJob(ctx, "job-1", 5*time.Second)
	if err != nil || !next.Claimed {
		t.Fatalf("claim after the renewals stopped = %+v, %v; want claimed", next, err)
	}
	// The old owner has lost it: its renewal says so and changes nothing.
	if _, err := store.RenewJob(ctx, "job-1", c.Owner, time.Hour); !errors.Is(err, ddb.ErrClaimLost) {
		t.Fatalf("renewal by the old owner: %v, want ErrClaimLost", err)
	}
	clk.Add(6 * time.Second)
	if again, err := store.ClaimJob(ctx, "job-1", 5*time.Second); err != nil || !again.Claimed {
		t.Fatalf("claim after the new owner's lease = %+v, %v; want claimed (the old owner's renewal must not extend it)", again, err)
	}
}

func TestStore_RenewingADoneOrReleasedClaimIsLost(t *testing.T) {
	store, _, _, _ := newStore(t)
	ctx := testCtx(t)

	done, _ := store.ClaimJob(ctx, "job-done", time.Minute)
	if err := store.CompleteJob(ctx, "job-done", "sent"); err != nil {
		t.Fatal(err)
	}
	released, _ := store.ClaimJob(ctx, "job-released", time.Minute)
	if err := store.ReleaseJob(ctx, "job-released", released.Owner); err != nil {
		t.Fatal(err)
	}
	for id, owner := range map[string]string{"job-done": done.Owner, "job-released": released.Owner, "job-never": "nobody"} {
		if _, err := store.RenewJob(ctx, id, owner, time.Minute); !errors.Is(err, ddb.ErrClaimLost) {
			t.Errorf("RenewJob(%s): %v, want ErrClaimLost", id, err)
		}
	}
	if c, _ := store.ClaimJob(ctx, "job-done", time.Minute); !c.Done {
		t.Errorf("claim of the done job after a renewal = %+v, want still done", c)
	}
}

func TestStore_ReleasedClaimCanBeClaimedAtOnce(t *testing.T) {
	store, _, _, _ := newStore(t)
	ctx := testCtx(t)

	c, err := store.ClaimJob(ctx, "job-1", time.Hour)
	if err != nil || !c.Claimed {
		t.Fatalf("claim = %+v, %v", c, err)
	}
	if err := store.ReleaseJob(ctx, "job-1", c.Owner); err != nil {
		t.Fatal(err)
	}
	if again, err := store.ClaimJob(ctx, "job-1", time.Hour); err != nil || !again.Claimed {
		t.Fatalf("claim after release = %+v, %v; want claimed", again, err)
	}
}
