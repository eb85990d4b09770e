package webapp_test

import (
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/busywork/busywork/demo"
	"github.com/busywork/busywork/handlers"
	"github.com/busywork/busywork/internal/testenv"
	"github.com/busywork/busywork/internal/webapp"
	"github.com/busywork/busywork/jobs"
)

func TestOrderPost_ADoubleClickEnqueuesOneOrderAndBothClicksGetTheSameAnswer(t *testing.T) {
	capture := &testenv.SQSCapture{}
	e := newEnv(t, envOptions{sqsOpts: []func(*sqs.Options){capture.Option()}})
	to := recipient(t, "ada")
	session := e.signIn(t, to)

	// The form, clicked twice at once, and its answer reloaded.
	var clicks [3]reply
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Go(func() { clicks[i] = e.postOrderForm(t, session, "Gala", "2") })
	}
	wg.Wait()
	clicks[2] = e.postOrderForm(t, session, "Gala", "2")
	for i, r := range clicks {
		if r.status != http.StatusAccepted || r.location == "" || r.location != clicks[0].location || r.body != clicks[0].body {
			t.Fatalf("post %d: %d Location %q, want the first's 202 to %q with the same page:\n%s\n---\n%s",
				i+1, r.status, r.location, clicks[0].location, r.body, clicks[0].body)
		}
	}
	// The same by JSON: another order (another count), posted twice.
	first, second := e.postOrder(t, session, `{"event":"Gala","tickets":3}`), e.postOrder(t, session, `{"event":"Gala","tickets":3}`)
	if first.status != http.StatusAccepted || second.status != first.status || second.body != first.body || second.location != first.location ||
		first.location == clicks[0].location {
		t.Fatalf("JSON twice: %d %s and %d %s, want the same new 202 twice", first.status, first.body, second.status, second.body)
	}

	msgs := testenv.ReceiveAll(t.Context(), t, e.sqs, e.queueURL, 2, 10*time.Second)
	e.assertNoOtherJobs(t, msgs...)
	tenants := capture.GroupIDs(t)
	for _, m := range msgs {
		var job demo.TicketOrder
		if err := json.Unmarshal([]byte(aws.ToString(m.Body)), &job); err != nil {
			t.Fatal(err)
		}
		if loc := "/orders/" + job.OrderID; loc != clicks[0].location && loc != first.location {
			t.Errorf("job for order %s, which no answer named", job.OrderID)
		}
		if id := testenv.Attr(m, jobs.AttrJobID); id != job.OrderID {
			t.Errorf("order %s went as job %s, want its order id", job.OrderID, id)
		}
		if got, want := tenants[aws.ToString(m.Body)], handlers.BuyerTenant(to); got != want {
			t.Errorf("order %s went with MessageGroupId %q, want the buyer's tenant %q", job.OrderID, got, want)
		}
	}
}

func TestOrderPost_ARepeatedOrderDoesNotCountAgainstTheThrottle(t *testing.T) {
	e := newEnv(t, envOptions{app: func(c *webapp.Config) { c.OrderBurst, c.OrderInterval = 2, time.Hour }})
	session := e.signIn(t, recipient(t, "ada"))
	for i, tc := range []struct {
		body string
		want int
	}{
		{`{"event":"Gala","tickets":2}`, http.StatusAccepted},
		{`{"event":"Gala","tickets":2}`, http.StatusAccepted}, // a repeat: not counted
		{`{"event":"Gala","tickets":5}`, http.StatusAccepted}, // the second order of the burst
		{`{"event":"Opera","tickets":1}`, http.StatusTooManyRequests},
	} {
		if r := e.postOrder(t, session, tc.body); r.status != tc.want {
			t.Fatalf("post %d (%s): %d %s, want %d", i+1, tc.body, r.status, r.body, tc.want)
		}
	}
	msgs := testenv.ReceiveAll(t.Context(), t, e.sqs, e.queueURL, 2, 10*time.Second)
	e.assertNoOtherJobs(t, msgs...)
}
