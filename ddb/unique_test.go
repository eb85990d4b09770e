package ddb_test

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

func TestUnique_AKeyIsHeldForItsWindowThenFreeAlthoughItsItemIsStillThere(t *testing.T) {
	store, clk, client, table := newStore(t)
	ctx := testCtx(t)

	heldBy, until, err := store.ClaimUnique(ctx, "order:ada", "job-1", 30*time.Second)
	if err != nil || heldBy != "" {
		t.Fatalf("first claim = %q, %v; want the key", heldBy, err)
	}
	if want := clk.Now().Add(30 * time.Second); until.Before(want.Truncate(time.Second)) || until.After(want.Add(time.Second)) {
		t.Errorf("first claim until %v, want 30s from now (%v), to the second", until, want)
	}
	clk.Add(29 * time.Second)
	again, againUntil, err := store.ClaimUnique(ctx, "order:ada", "job-2", 30*time.Second)
	if err != nil || again != "job-1" || !againUntil.Equal(until) {
		t.Fatalf("claim within the window = %q until %v, %v; want held by job-1 until %v", again, againUntil, err, until)
	}
	if other, _, err := store.ClaimUnique(ctx, "order:grace", "job-3", 30*time.Second); err != nil || other != "" {
		t.Errorf("claim of another key = %q, %v; want the key", other, err)
	}

	// DynamoDB Local never deletes expired items (and DynamoDB does it
	// late): the key's item is still there when its window has passed.
	clk.Add(2 * time.Second)
	scan, err := client.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatal(err)
	}
	if scan.Count != 2 {
		t.Fatalf("%d items in the table after the window, want the 2 keys' items", scan.Count)
	}
	after, _, err := store.ClaimUnique(ctx, "order:ada", "job-4", 30*time.Second)
	if err != nil || after != "" {
		t.Fatalf("claim after the window = %q, %v; want the key", after, err)
	}
	if held, _, _ := store.ClaimUnique(ctx, "order:ada", "job-5", 30*time.Second); held != "job-4" {
		t.Errorf("claim after the new one = held by %q, want job-4", held)
	}
}

func TestUnique_ARepeatedClaimByTheSameJobIsItsOwn(t *testing.T) {
	// The SDK retries a put whose answer was lost; the retry finds the
	// item its first attempt wrote.
	store, _, _, _ := newStore(t)
	ctx := testCtx(t)
	if held, _, err := store.ClaimUnique(ctx, "k", "job-1", time.Minute); err != nil || held != "" {
		t.Fatalf("claim = %q, %v", held, err)
	}
	if held, _, err := store.ClaimUnique(ctx, "k", "job-1", time.Minute); err != nil || held != "" {
		t.Fatalf("the same job's claim again = held by %q, %v; want its own", held, err)
	}
}

func TestUnique_ReleaseFreesOnlyTheHoldersKey(t *testing.T) {
	store, _, _, _ := newStore(t)
	ctx := testCtx(t)
	if _, _, err := store.ClaimUnique(ctx, "k", "job-1", time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := store.ReleaseUnique(ctx, "k", "job-2"); err != nil {
		t.Fatalf("release by another job: %v, want nil (nothing done)", err)
	}
	if held, _, _ := store.ClaimUnique(ctx, "k", "job-3", time.Hour); held != "job-1" {
		t.Fatalf("after another job's release, held by %q, want job-1", held)
	}
	if err := store.ReleaseUnique(ctx, "k", "job-1"); err != nil {
		t.Fatal(err)
	}
	if held, _, err := store.ClaimUnique(ctx, "k", "job-3", time.Hour); err != nil || held != "" {
		t.Fatalf("after the holder's release: held by %q, %v; want free", held, err)
	}
	if err := store.ReleaseUnique(ctx, "never-claimed", "job-1"); err != nil {
		t.Errorf("release of a key with no item: %v, want nil", err)
	}
}

func TestUnique_TheItemKeepsTheKeysHashTheJobAndTheWindowsEndNotTheKey(t *testing.T) {
	store, clk, client, table := newStore(t)
	ctx := testCtx(t)
	if _, _, err := store.ClaimUnique(ctx, "order:ada@example.com", "job-1", time.Minute); err != nil {
		t.Fatal(err)
	}
	scan, err := client.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(table)})
	if err != nil || len(scan.Items) != 1 {
		t.Fatalf("scan: %d items, %v; want 1", len(scan.Items), err)
	}
	item := scan.Items[0]
	for name, v := range item {
		if sv, ok := v.(*types.AttributeValueMemberS); ok && strings.Contains(sv.Value, "ada") {
			t.Errorf("attribute %s = %q holds the key", name, sv.Value)
		}
	}
	sum := sha256.Sum256([]byte("order:ada@example.com"))
	if pk := item["pk"].(*types.AttributeValueMemberS).Value; pk != "UNIQUE#"+hex.EncodeToString(sum[:]) {
		t.Errorf("pk = %q, want UNIQUE#<sha256 hex of the key>", pk)
	}
	if sk := item["sk"].(*types.AttributeValueMemberS).Value; sk != "UNIQUE" {
		t.Errorf("sk = %q, want UNIQUE", sk)
	}
	if job := item["job_id"].(*types.AttributeValueMemberS).Value; job != "job-1" {
		t.Errorf("job_id = %q, want job-1", job)
	}
	ttl, _ := strconv.ParseInt(item["ttl"].(*types.AttributeValueMemberN).Value, 10, 64)
	if want := clk.Now().Add(time.Minute).Unix(); ttl < want || ttl > want+1 {
		t.Errorf("ttl = %d, want now + 1m (%d), rounded up", ttl, want)
	}
}

func TestUnique_RefusesAnEmptyKeyOrJobIDAndANonPositiveWindow(t *testing.T) {
	store, _, _, _ := newStore(t)
	ctx := testCtx(t)
	for _, tc := range []struct {
		key, job string
		window   time.Duration
		want     string
	}{
		{"", "job-1", time.Minute, "key is empty"},
		{"k", "", time.Minute, "job id is empty"},
		{"k", "job-1", 0, "window 0s"},
		{"k", "job-1", -time.Second, "window -1s"},
	} {
		if _, _, err := store.ClaimUnique(ctx, tc.key, tc.job, tc.window); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ClaimUnique(%q, %q, %v) = %v, want an error saying %q", tc.key, tc.job, tc.window, err, tc.want)
		}
	}
}
