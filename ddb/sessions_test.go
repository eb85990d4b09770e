package ddb_test

import (
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/busywork/busywork/ddb"
)

func TestStore_SessionFindsItsUserUntilItExpires(t *testing.T) {
	store, clk, _, _ := newStore(t)
	ctx := testCtx(t)

	id, err := store.CreateSession(ctx, " Ada@Example.com ", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if raw, err := base64.RawURLEncoding.DecodeString(id); err != nil || len(raw) != 32 {
		t.Fatalf("session id %q is not 32 base64url bytes (%v)", id, err)
	}
	email, err := store.GetSession(ctx, id, clk.Now())
	if err != nil || email != "ada@example.com" {
		t.Fatalf("GetSession = %q, %v; want ada@example.com, nil", email, err)
	}
	if _, err := store.GetSession(ctx, id, clk.Now().Add(time.Hour+time.Second)); !errors.Is(err, ddb.ErrNotFound) {
		t.Fatalf("GetSession after expiry: %v, want ErrNotFound", err)
	}
}

func TestStore_UnknownOrMalformedSessionIsNotFound(t *testing.T) {
	store, clk, _, _ := newStore(t)
	ctx := testCtx(t)

	unknown := base64.RawURLEncoding.EncodeToString(make([]byte, 32))
	for _, id := range []string{"", "not base64!", "c2hvcnQ", unknown} {
		if _, err := store.GetSession(ctx, id, clk.Now()); !errors.Is(err, ddb.ErrNotFound) {
			t.Errorf("GetSession(%q): %v, want ErrNotFound", id, err)
		}
	}
}

func TestStore_DeletedSessionIsGoneAndOthersStay(t *testing.T) {
	store, clk, _, _ := newStore(t)
	ctx := testCtx(t)

	id, err := store.CreateSession(ctx, "ada@example.com", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	other, err := store.CreateSession(ctx, "ada@example.com", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := store.DeleteSession(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := store.GetSession(ctx, id, clk.Now()); !errors.Is(err, ddb.ErrNotFound) {
		t.Fatalf("GetSession after DeleteSession: %v, want ErrNotFound", err)
	}
	if email, err := store.GetSession(ctx, other, clk.Now()); err != nil || email != "ada@example.com" {
		t.Fatalf("the other session after DeleteSession: %q, %v; want it kept", email, err)
	}
	// Deleting again, or an id that never was, is no error.
	for _, id := range []string{id, "", "not base64!"} {
		if err := store.DeleteSession(ctx, id); err != nil {
			t.Errorf("DeleteSession(%q): %v, want nil", id, err)
		}
	}
}

func TestStore_SessionItemHoldsOnlyTheIDsHash(t *testing.T) {
	store, clk, client, table := newStore(t)
	ctx := testCtx(t)

	id, err := store.CreateSession(ctx, "ada@example.com", 0)
	if err != nil {
		t.Fatal(err)
	}
	out, err := client.Scan(ctx, &dynamodb.ScanInput{TableName: aws.String(table)})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Items) != 1 {
		t.Fatalf("%d items, want 1", len(out.Items))
	}
	item := out.Items[0]
	for name, v := range item {
		if sv, ok := v.(*types.AttributeValueMemberS); ok && strings.Contains(sv.Value, id) {
			t.Errorf("attribute %s holds the session id", name)
		}
	}
	if pk := item["pk"].(*types.AttributeValueMemberS).Value; !strings.HasPrefix(pk, "SESSION#") || len(pk) != len("SESSION#")+64 {
		t.Errorf("pk = %q, want SESSION#<sha256 hex>", pk)
	}
	if sk := item["sk"].(*types.AttributeValueMemberS).Value; sk != "SESSION" {
		t.Errorf("sk = %q, want SESSION", sk)
	}
	exp, _ := strconv.ParseInt(item["expires_at"].(*types.AttributeValueMemberN).Value, 10, 64)
	ttl, _ := strconv.ParseInt(item["ttl"].(*types.AttributeValueMemberN).Value, 10, 64)
	if want := clk.Now().Add(ddb.DefaultSessionTTL).Unix(); exp < want || exp > want+1 || ttl != exp {
		t.Errorf("expires_at %d, ttl %d; want both now + 24h (%d)", exp, ttl, want)
	}
}
