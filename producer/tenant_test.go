package producer_test

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/busywork/busywork/internal/testenv"
	"github.com/busywork/busywork/jobs"
	"github.com/busywork/busywork/producer"
)

// fauxqs accepts MessageGroupId on a standard queue and ignores it (SQS
// fair queues are not emulated), so these tests read the requests the
// producer makes on their way to it (testenv.SQSCapture).

func TestTenant_SetsTheMessageGroupIdOfSendsBatchEntriesAndMicroBatchedSends(t *testing.T) {
	capture := &testenv.SQSCapture{}
	client := testenv.SQS(t, capture.Option())
	queue, _ := testenv.NewQueue(t, client, testenv.QueueOptions{NoDLQ: true})
	alone := producer.New(client, queue)
	batched := producer.New(client, queue, producer.WithBatching(producer.SuggestedBatchWindow))

	want := map[string]string{}
	body := func(j jobs.Job) string { b, _ := jobs.Marshal(j); return string(b) }
	send := func(p *producer.Producer, msg, tenant string) {
		var opts []producer.SendOption
		if tenant != "" {
			opts = append(opts, producer.Tenant(tenant))
		}
		job := jobs.Ping{Message: msg}
		if _, err := p.Send(t.Context(), job, opts...); err != nil {
			t.Fatal(err)
		}
		want[body(job)] = tenant
	}
	send(alone, "alone", "buyer-1")
	send(alone, "no tenant", "")
	send(alone, "punctuation", `a!"#$%&'()*+,-./:;<=>?@[\]^_`+"`{|}~z")
	var wg sync.WaitGroup
	var mu sync.Mutex
	for i := range 4 {
		wg.Go(func() {
			job := jobs.Ping{Message: fmt.Sprint("batched ", i)}
			tenant := fmt.Sprint("buyer-", i%2)
			if _, err := batched.Send(t.Context(), job, producer.Tenant(tenant)); err != nil {
				t.Error(err)
			}
			mu.Lock()
			want[body(job)] = tenant
			mu.Unlock()
		})
	}
	wg.Wait()
	js := []jobs.Job{jobs.Ping{Message: "batch 1"}, jobs.Ping{Message: "batch 2"}, jobs.Ping{Message: "batch 3"}}
	if _, err := alone.SendBatch(t.Context(), js, producer.Tenant("buyer-9")); err != nil {
		t.Fatal(err)
	}
	for _, j := range js {
		want[body(j)] = "buyer-9"
	}

	got := capture.GroupIDs(t)
	for b, tenant := range want {
		if g, ok := got[b]; !ok || g != tenant {
			t.Errorf("message %s went with MessageGroupId %q (sent: %v), want %q", b, g, ok, tenant)
		}
	}
	// fauxqs 1.9.2 does not return a standard queue's MessageGroupId; if
	// a later one does, it must be the tenant.
	for _, m := range testenv.ReceiveAll(t.Context(), t, client, queue, len(want), 10*time.Second) {
		if g, ok := m.Attributes[string(types.MessageSystemAttributeNameMessageGroupId)]; ok && g != want[aws.ToString(m.Body)] {
			t.Errorf("message %s received with MessageGroupId %q, want %q", aws.ToString(m.Body), g, want[aws.ToString(m.Body)])
		}
	}
}

func TestTenant_BadIDIsRefusedNamingItBeforeAnyRequest(t *testing.T) {
	capture := &testenv.SQSCapture{}
	client := testenv.SQS(t, capture.Option())
	queue, _ := testenv.NewQueue(t, client, testenv.QueueOptions{NoDLQ: true})
	made := capture.Requests()
	p := producer.New(client, queue)
	for _, tc := range []struct{ name, id, want string }{
		{"empty", "", "it is empty"},
		{"too long", strings.Repeat("t", producer.MaxTenantBytes+1), "129 bytes is longer than 128"},
		{"a space", "ada lovelace", `"ada lovelace" holds a character other than`},
		{"not ASCII", "zoë", `"zoë" holds a character other than`},
		{"a control character", "a\nb", `"a\nb" holds a character other than`},
	} {
		id, err := p.Send(t.Context(), welcome{UserID: "ada"}, producer.Tenant(tc.id))
		if id != "" || !errors.Is(err, producer.ErrInvalidTenant) || !strings.Contains(err.Error(), tc.want) ||
			!strings.Contains(err.Error(), "welcome_email") {
			t.Errorf("%s: Send = %q, %v; want ErrInvalidTenant naming the job type and saying %q", tc.name, id, err, tc.want)
		}
		results, err := p.SendBatch(t.Context(), []jobs.Job{welcome{UserID: "ada"}, welcome{UserID: "grace"}}, producer.Tenant(tc.id))
		for i, r := range results {
			if r.JobID != "" || !errors.Is(r.Err, producer.ErrInvalidTenant) {
				t.Errorf("%s: SendBatch result %d = %+v, want ErrInvalidTenant", tc.name, i, r)
			}
		}
		if !errors.Is(err, producer.ErrInvalidTenant) {
			t.Errorf("%s: SendBatch = %v, want ErrInvalidTenant", tc.name, err)
		}
	}
	if n := capture.Requests() - made; n != 0 {
		t.Errorf("%d requests to SQS, want none", n)
	}
	if id, err := p.Send(t.Context(), welcome{UserID: "ada"}, producer.Tenant(strings.Repeat("t", producer.MaxTenantBytes))); err != nil || id == "" {
		t.Errorf("Send with a tenant of %d bytes = %q, %v; want it sent", producer.MaxTenantBytes, id, err)
	}
}
