package ddb_test

import (
	"errors"
	"os"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/busywork/busywork/awsclient"
	"github.com/busywork/busywork/ddb"
	"github.com/busywork/busywork/internal/testenv"
)

// A proxy in front of DynamoDB Local forwards each write below and holds
// its answer past the attempt timeout of the web app's client
// (awsclient.Interactive): the write landed, the SDK retries it, and the
// retry's condition fails on the item the first attempt wrote. The store
// must recognise that item as the call's own.
func TestStore_AWriteRetriedAfterItsAnswerCameTooLateSucceedsOnce(t *testing.T) {
	direct, clk, _, table := newStore(t)
	proxy := testenv.NewDelayProxy(t, os.Getenv(testenv.EnvDynamoDB))
	web := ddb.New(awsclient.NewDynamoDB(awsclient.Interactive(testenv.AWSConfig(t)), func(o *dynamodb.Options) {
		o.BaseEndpoint = aws.String(proxy.URL)
	}), table, func(o *ddb.Options) { o.Now = clk.Now })
	ctx := testCtx(t)
	late := testenv.Delay{After: 2 * awsclient.InteractiveAttemptTimeout, Count: 1}
	assertRetried := func(what string, before int) {
		t.Helper()
		if n := proxy.Requests() - before; n != 2 {
			t.Errorf("%s: %d attempts, want 2 (the late one and its retry)", what, n)
		}
	}

	token, err := direct.CreateToken(ctx, "ada@example.com", 0)
	if err != nil {
		t.Fatal(err)
	}
	proxy.Set(late)
	n := proxy.Requests()
	if email, err := web.ConsumeToken(ctx, token, clk.Now()); err != nil || email != "ada@example.com" {
		t.Errorf("ConsumeToken, answer late: %q, %v; want ada@example.com, nil", email, err)
	}
	assertRetried("ConsumeToken", n)
	if _, err := direct.ConsumeToken(ctx, token, clk.Now()); !errors.Is(err, ddb.ErrInvalidToken) {
		t.Errorf("ConsumeToken again: %v, want ErrInvalidToken: the token is spent", err)
	}

	proxy.Set(late)
	n = proxy.Requests()
	id, err := web.CreateSession(ctx, "ada@example.com", 0)
	if err != nil {
		t.Fatalf("CreateSession, answer late: %v", err)
	}
	assertRetried("CreateSession", n)
	if email, err := direct.GetSession(ctx, id, clk.Now()); err != nil || email != "ada@example.com" {
		t.Errorf("GetSession of the session made: %q, %v; want ada@example.com", email, err)
	}
}
