package handlers_test

import (
	"errors"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"github.com/busywork/busywork/consumer"
	"github.com/busywork/busywork/ddb"
	"github.com/busywork/busywork/demo"
	"github.com/busywork/busywork/handlers"
	"github.com/busywork/busywork/internal/claim"
	"github.com/busywork/busywork/internal/testenv"
)

// diesAfterClaim is a DynamoDB HTTP client that passes requests to the
// emulator until the first PutItem (a magic link's claim) has gone out,
// then fails every request: from the table's side, a worker that died
// right after claiming its job. The SDK's retries are off.
type diesAfterClaim struct {
	next dynamodb.HTTPClient
	mu   sync.Mutex
	dead bool
}

func (c *diesAfterClaim) Do(req *http.Request) (*http.Response, error) {
	c.mu.Lock()
	dead := c.dead
	c.dead = c.dead || req.Header.Get("X-Amz-Target") == "DynamoDB_20120810.PutItem"
	c.mu.Unlock()
	if dead {
		return nil, errors.New("injected: the worker died")
	}
	return c.next.Do(req)
}

func TestMagicLink_AClaimLeftByACrashedWorkerLetsTheRedeliveryMailWithinSeconds(t *testing.T) {
	client := testenv.DynamoDB(t)
	table := testenv.NewTable(t, client)
	store := ddb.New(client, table)
	h := &handlers.MagicLink{Store: store, Mail: testenv.SESv2(t), From: "no-reply@example.com", BaseURL: baseURL}
	to := recipient(t)
	putUser(t, store, to, "Ada")
	crashed := *h
	crashed.Store = ddb.New(testenv.DynamoDB(t, func(o *dynamodb.Options) {
		o.HTTPClient = &diesAfterClaim{next: o.HTTPClient}
		o.RetryMaxAttempts = 1
	}), table)
	since := time.Now()

	// The crashed attempt claims job-1 and is never heard of again: no
	// renewal, no release, no mail.
	if err := crashed.Handle(delivered(t, "job-1"), demo.MagicLink{Email: to}); err == nil {
		t.Fatal("the crashed attempt succeeded; want the injected failure after its claim")
	}
	crashedAt := time.Now()

	w := serveLinks(t, h)
	w.send(t, "job-1", to)
	if err := w.next(t, 30*time.Second); err == nil || consumer.IsPermanent(err) {
		t.Fatalf("first redelivery: %v, want a retry while the dead claim's lease runs", err)
	}
	if err := w.next(t, 30*time.Second); err != nil {
		t.Fatalf("second redelivery: %v, want it to take over the dead claim and mail", err)
	}
	mailed := time.Now()
	if mails := mailsTo(t, since, to); len(mails) != 1 {
		t.Fatalf("%d emails, want 1", len(mails))
	}
	// The claim's lease (whole seconds in DynamoDB), the retry's delay
	// rounded up to a second, and a receive.
	if limit := claim.Lease + 4*time.Second; mailed.Sub(crashedAt) > limit {
		t.Errorf("the link was mailed %s after the crash, want within %s", mailed.Sub(crashedAt).Round(time.Millisecond), limit)
	}
}

// heldSend is an SES HTTP client that holds each SendEmail until release
// is closed, telling entered when one arrives, then passes it on to the
// emulator.
type heldSend struct {
	next    sesv2.HTTPClient
	entered chan struct{}
	release chan struct{}
}

func (c *heldSend) Do(req *http.Request) (*http.Response, error) {
	c.entered <- struct{}{}
	select {
	case <-c.release:
	case <-req.Context().Done():
		return nil, req.Context().Err()
	}
	return c.next.Do(req)
}

func TestMagicLink_ALiveAttemptOutlastingItsClaimLeaseIsNotOvertaken(t *testing.T) {
	h, store := newMagicLink(t)
	to := recipient(t)
	putUser(t, store, to, "Ada")
	hold := &heldSend{entered: make(chan struct{}, 1), release: make(chan struct{})}
	slow := *h
	slow.Mail = testenv.SESv2(t, func(o *sesv2.Options) { hold.next = o.HTTPClient; o.HTTPClient = hold })
	since := time.Now()

	var slowErr error
	var wg sync.WaitGroup
	wg.Go(func() { slowErr = slow.Handle(delivered(t, "job-1"), demo.MagicLink{Email: to}) })
	var releaseOnce sync.Once
	release := func() { releaseOnce.Do(func() { close(hold.release) }) }
	defer func() {
		release()
		wg.Wait()
	}()
	select {
	case <-hold.entered:
	case <-time.After(30 * time.Second):
		t.Fatal("the slow attempt never reached SES")
	}

	// A redelivery of the same job meanwhile is refused twice: the second
	// time after the slow attempt's first lease has run out, so only its
	// renewals can have kept it.
	w := serveLinks(t, h)
	w.send(t, "job-1", to)
	for i := range 2 {
		if err := w.next(t, 30*time.Second); err == nil || consumer.IsPermanent(err) {
			t.Fatalf("redelivery %d while the slow attempt runs: %v, want a retry", i+1, err)
		}
	}
	release()
	wg.Wait()
	if slowErr != nil {
		t.Fatalf("the slow attempt: %v", slowErr)
	}
	if err := w.next(t, 30*time.Second); err != nil {
		t.Fatalf("the redelivery after the slow attempt finished: %v, want nil (done already)", err)
	}
	if mails := mailsTo(t, since, to); len(mails) != 1 {
		t.Fatalf("%d emails, want 1", len(mails))
	}
}
