package webapp_test

import (
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/busywork/busywork/ddb"
	"github.com/busywork/busywork/demo"
	"github.com/busywork/busywork/internal/testenv"
	"github.com/busywork/busywork/internal/webapp"
	"github.com/busywork/busywork/jobs"
	"github.com/busywork/busywork/producer"
)

// signIn starts a session for email, as the confirm POST does, and
// returns its cookie.
func (e *env) signIn(t *testing.T, email string) *http.Cookie {
	t.Helper()
	id, err := e.store.CreateSession(t.Context(), email, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Cookie{Name: webapp.SessionCookie, Value: id}
}

// postOrder posts body to /orders as JSON, with the session cookie c
// unless it is nil.
func (e *env) postOrder(t *testing.T, c *http.Cookie, body string) reply {
	t.Helper()
	req := newRequest(t, http.MethodPost, e.srv.URL+"/orders", "application/json", body)
	if c != nil {
		req.AddCookie(c)
	}
	return do(t, req)
}

// postOrderForm posts the order form's fields to /orders, with the
// session cookie c unless it is nil.
func (e *env) postOrderForm(t *testing.T, c *http.Cookie, event, tickets string) reply {
	t.Helper()
	form := url.Values{"event": {event}, "tickets": {tickets}}.Encode()
	req := newRequest(t, http.MethodPost, e.srv.URL+"/orders", "application/x-www-form-urlencoded", form)
	if c != nil {
		req.AddCookie(c)
	}
	return do(t, req)
}

// receiveOrder receives the one message on e's queue, fails the test
// unless it is the only one, and returns it decoded as a ticket_order job.
func (e *env) receiveOrder(t *testing.T) demo.TicketOrder {
	t.Helper()
	msgs := testenv.ReceiveAll(t.Context(), t, e.sqs, e.queueURL, 1, 10*time.Second)
	e.assertNoOtherJobs(t, msgs...)
	body := aws.ToString(msgs[0].Body)
	var job struct {
		Type string `json:"type"`
		demo.TicketOrder
	}
	dec := json.NewDecoder(strings.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&job); err != nil || job.Type != demo.TypeTicketOrder {
		t.Fatalf("message %s: %v, want a ticket_order job", body, err)
	}
	if got := testenv.Attr(msgs[0], "job_type"); got != demo.TypeTicketOrder {
		t.Errorf("job_type attribute %q, want %q", got, demo.TypeTicketOrder)
	}
	return job.TicketOrder
}

func TestOrderPost_JSONAnswers202WithTheOrderIDAndEnqueuesOneJobWhateverTheSize(t *testing.T) {
	for _, tickets := range []int{1, demo.MaxTickets} {
		t.Run(fmt.Sprint(tickets), func(t *testing.T) {
			e := newEnv(t, envOptions{})
			to := recipient(t, "ada")
			session := e.signIn(t, to)

			// Typed as a person would: the job carries the normalised event.
			r := e.postOrder(t, session, fmt.Sprintf(`{"event":" Ada's Gala ","tickets":%d}`, tickets))
			if r.status != http.StatusAccepted || r.contentType != "application/json" {
				t.Fatalf("%d %s %s, want 202 application/json", r.status, r.contentType, r.body)
			}
			var ans struct {
				OrderID string `json:"order_id"`
				Email   string `json:"email"`
			}
			if err := json.Unmarshal([]byte(r.body), &ans); err != nil || ans.OrderID == "" || ans.Email != to {
				t.Fatalf("body %s: %v, want {\"order_id\": ..., \"email\": %q}", r.body, err, to)
			}
			if err := jobs.ValidateJobID(ans.OrderID); err != nil {
				t.Errorf("order id: %v", err)
			}
			if want := "/orders/" + ans.OrderID; r.location != want {
				t.Errorf("Location %q, want %q", r.location, want)
			}

			want := demo.TicketOrder{OrderID: ans.OrderID, Email: to, Event: "Ada's Gala", Tickets: tickets}
			if got := e.receiveOrder(t); got != want {
				t.Errorf("job %+v, want %+v", got, want)
			}
		})
	}
}

func TestOrderPost_EveryOrderGetsItsOwnID(t *testing.T) {
	e := newEnv(t, envOptions{})
	session := e.signIn(t, recipient(t, "ada"))
	a, b := e.postOrder(t, session, `{"event":"Gala","tickets":2}`), e.postOrder(t, session, `{"event":"Gala","tickets":3}`)
	if a.status != http.StatusAccepted || b.status != http.StatusAccepted || a.location == b.location {
		t.Fatalf("two orders: %d %s and %d %s, want 202 twice with different ids", a.status, a.location, b.status, b.location)
	}
	msgs := testenv.ReceiveAll(t.Context(), t, e.sqs, e.queueURL, 2, 10*time.Second)
	e.assertNoOtherJobs(t, msgs...)
}

func TestOrderPost_RefusesBadInputWithoutAJob(t *testing.T) {
	e := newEnv(t, envOptions{app: func(c *webapp.Config) { c.OrderBurst = 100 }})
	session := e.signIn(t, recipient(t, "ada"))
	form := "application/x-www-form-urlencoded"
	tests := []struct {
		name        string
		contentType string
		body        string
		status      int
		want        string
	}{
		{"no tickets", "application/json", `{"email":"ada@example.com","event":"Gala","tickets":0}`, http.StatusBadRequest,
			"tickets: 0 is not between 1 and 1000"},
		{"tickets missing", "application/json", `{"email":"ada@example.com","event":"Gala"}`, http.StatusBadRequest,
			"tickets: 0 is not between 1 and 1000"},
		{"too many tickets", "application/json", `{"email":"ada@example.com","event":"Gala","tickets":1001}`, http.StatusBadRequest,
			"tickets: 1001 is not between 1 and 1000"},
		{"negative tickets", "application/json", `{"email":"ada@example.com","event":"Gala","tickets":-1}`, http.StatusBadRequest,
			"tickets: -1 is not between 1 and 1000"},
		{"tickets as a string", "application/json", `{"email":"ada@example.com","event":"Gala","tickets":"2"}`, http.StatusBadRequest,
			"tickets of type int"},
		{"missing event", "application/json", `{"email":"ada@example.com","tickets":1}`, http.StatusBadRequest, "event: missing"},
		{"blank event", "application/json", `{"email":"ada@example.com","event":"  ","tickets":1}`, http.StatusBadRequest, "event: missing"},
		{"long event", "application/json", `{"email":"ada@example.com","event":"` + strings.Repeat("x", 201) + `","tickets":1}`,
			http.StatusBadRequest, "event: 201 bytes is longer than 200"},
		{"unknown field", "application/json", `{"email":"ada@example.com","event":"Gala","tickets":1,"seats":2}`, http.StatusBadRequest,
			`JSON body: json: unknown field "seats"`},
		{"bad JSON", "application/json", `{"email":`, http.StatusBadRequest, "JSON body"},
		{"JSON body over 4 KiB", "application/json", `{"email":"ada@example.com","tickets":1,"event":"` + strings.Repeat("x", 5000) + `"}`,
			http.StatusRequestEntityTooLarge, "over 4096 bytes"},
		{"form tickets not a number", form, "email=ada%40example.com&event=Gala&tickets=three", http.StatusBadRequest,
			`tickets: "three" is not a whole number`},
		{"form tickets missing", form, "email=ada%40example.com&event=Gala", http.StatusBadRequest, `tickets: "" is not a whole number`},
		{"form too many tickets", form, "email=ada%40example.com&event=Gala&tickets=1001", http.StatusBadRequest,
			"tickets: 1001 is not between 1 and 1000"},
		{"form body over 4 KiB", form, "email=ada%40example.com&tickets=1&event=" + strings.Repeat("x", 5000),
			http.StatusRequestEntityTooLarge, "over 4096 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := newRequest(t, http.MethodPost, e.srv.URL+"/orders", tt.contentType, tt.body)
			req.AddCookie(session)
			r := do(t, req)
			if r.status != tt.status || r.location != "" {
				t.Fatalf("%d Location %q %q, want %d and no Location", r.status, r.location, r.body, tt.status)
			}
			if tt.contentType == form {
				// The form's page shows the message, and the form again.
				if r.contentType != "text/html; charset=utf-8" || !strings.Contains(r.body, html.EscapeString(tt.want)) ||
					!strings.Contains(r.body, `action="/orders"`) {
					t.Fatalf("%s %q, want an HTML page with the order form saying %q", r.contentType, r.body, tt.want)
				}
				return
			}
			var ans struct {
				Error string `json:"error"`
			}
			if err := json.Unmarshal([]byte(r.body), &ans); err != nil || r.contentType != "application/json" || !strings.Contains(ans.Error, tt.want) {
				t.Fatalf("%s %q (%v), want a JSON error containing %q", r.contentType, r.body, err, tt.want)
			}
		})
	}
	e.assertNoOtherJobs(t)
}

func TestOrderPost_FormAnswersTheOrderPlacedPageFollowingTheOrder(t *testing.T) {
	e := newEnv(t, envOptions{})
	to := recipient(t, "ada")
	r := e.postOrderForm(t, e.signIn(t, to), "Ada's <Gala>", " 3 ")
	if r.status != http.StatusAccepted || r.contentType != "text/html; charset=utf-8" {
		t.Fatalf("%d %s, want 202 with a page:\n%s", r.status, r.contentType, r.body)
	}
	id, ok := strings.CutPrefix(r.location, "/orders/")
	if !ok || id == "" {
		t.Fatalf("Location %q, want /orders/ID", r.location)
	}
	for _, want := range []string{
		"<h1>Order placed</h1>",
		"Your 3 tickets for Ada&#39;s &lt;Gala&gt; are being made; they will be emailed to " + to + ".",
		"Order <code>" + id + "</code>",
		`data-order="` + id + `"`,
		`<script src="/static/order.js" defer></script>`,
	} {
		if !strings.Contains(r.body, want) {
			t.Errorf("the page lacks %q:\n%s", want, r.body)
		}
	}
	want := demo.TicketOrder{OrderID: id, Email: to, Event: "Ada's <Gala>", Tickets: 3}
	if got := e.receiveOrder(t); got != want {
		t.Errorf("job %+v, want %+v", got, want)
	}
}

func TestOrderPost_SQSFailureAnswers503WithRetryAfterWithinTheSendDeadline(t *testing.T) {
	fault := &failingAWS{}
	e := newEnv(t, envOptions{sqsOpts: []func(*sqs.Options){func(o *sqs.Options) { o.HTTPClient = fault }}})
	session := e.signIn(t, recipient(t, "ada"))

	r := e.postOrder(t, session, `{"event":"Gala","tickets":1000}`)
	if r.status != http.StatusServiceUnavailable || r.retryAfter != "1" || r.contentType != "application/json" ||
		!strings.Contains(r.body, `"error":"We could not take your request just now.`) || r.location != "" {
		t.Fatalf("JSON: %d Retry-After %q Location %q %s %q, want a JSON 503 with Retry-After: 1 and no Location",
			r.status, r.retryAfter, r.location, r.contentType, r.body)
	}
	fault.assertWithinDeadline(t, "JSON: SQS", producer.DefaultTimeout)

	r = e.postOrderForm(t, session, "Gala", "2")
	if r.status != http.StatusServiceUnavailable || r.retryAfter != "1" || !strings.Contains(r.body, "We could not take your request just now.") {
		t.Fatalf("form: %d Retry-After %q %q, want 503 with Retry-After: 1", r.status, r.retryAfter, r.body)
	}
	fault.assertWithinDeadline(t, "form: SQS", producer.DefaultTimeout)
	e.assertNoOtherJobs(t)
}

// orderView is GET /orders/{id}'s JSON as the page's script and other
// clients read it; pointers tell a missing field from a zero one.
type orderView struct {
	OrderID      string            `json:"order_id"`
	Event        string            `json:"event"`
	Total        *int              `json:"total"`
	Done         *int              `json:"done"`
	Failed       []int             `json:"failed"`
	Errors       map[string]string `json:"errors"`
	Complete     *bool             `json:"complete"`
	Dispatched   *bool             `json:"dispatched"`
	CreatedAt    *time.Time        `json:"created_at"`
	CompletedAt  *time.Time        `json:"completed_at"`
	DispatchedAt *time.Time        `json:"dispatched_at"`
	Stalled      *ddb.OrderStall   `json:"stalled"`
	Action       string            `json:"action"`
}

// getOrder gets /orders/id, failing the test unless it answers 200 JSON
// that no cache keeps.
func (e *env) getOrder(t *testing.T, id string) orderView {
	t.Helper()
	resp, err := http.Get(e.srv.URL + "/orders/" + id)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("GET /orders/%s: %d %s Cache-Control %q, want 200 JSON, no-store", id, resp.StatusCode,
			resp.Header.Get("Content-Type"), resp.Header.Get("Cache-Control"))
	}
	var v orderView
	dec := json.NewDecoder(resp.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("GET /orders/%s: %v", id, err)
	}
	if v.Total == nil || v.Done == nil || v.Failed == nil || v.Complete == nil || v.Dispatched == nil || v.CreatedAt == nil {
		t.Fatalf("GET /orders/%s: %+v lacks one of total, done, failed, complete, dispatched, created_at", id, v)
	}
	return v
}

// within fails the test unless at is set and between from and to, to the
// second (the store keeps Unix seconds).
func within(t *testing.T, what string, at *time.Time, from, to time.Time) {
	t.Helper()
	if at == nil || at.Before(from.Truncate(time.Second)) || at.After(to) {
		t.Errorf("%s = %v, want between %v and %v", what, at, from, to)
	}
}

func TestOrderStatus_ShowsProgressFailuresAndDispatch(t *testing.T) {
	e := newEnv(t, envOptions{})
	ctx := t.Context()
	id := strings.ToLower(testenv.UniqueName(t, "order-", 100))
	created := time.Unix(1_760_000_000, 0)
	if _, err := e.store.PutOrder(ctx, ddb.Order{ID: id, Email: recipient(t, "ada"), Event: "Gala", Tickets: 5, CreatedAt: created}, 0); err != nil {
		t.Fatal(err)
	}

	// Taken by the web app, not yet by a worker: no progress.
	v := e.getOrder(t, id)
	if v.OrderID != id || v.Event != "Gala" || *v.Total != 5 || *v.Done != 0 || len(v.Failed) != 0 || *v.Complete || *v.Dispatched ||
		!v.CreatedAt.Equal(created) || v.CompletedAt != nil || v.DispatchedAt != nil || v.Errors != nil {
		t.Fatalf("before the batch: %+v, want 0 of 5 done, created at %v", v, created)
	}

	if _, err := e.store.CreateBatch(ctx, id, 5, nil, 0); err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{4, 1, 2} {
		if _, err := e.store.MarkChildDone(ctx, id, n); err != nil {
			t.Fatal(err)
		}
	}
	for n, reason := range map[int]string{5: "render: timed out", 3: `pdf: "bad" font`} {
		if err := e.store.MarkChildFailed(ctx, id, n, reason); err != nil {
			t.Fatal(err)
		}
	}
	v = e.getOrder(t, id)
	wantErrors := map[string]string{"3": `pdf: "bad" font`, "5": "render: timed out"}
	if *v.Done != 3 || !slices.Equal(v.Failed, []int{3, 5}) || fmt.Sprint(v.Errors) != fmt.Sprint(wantErrors) ||
		*v.Complete || *v.Dispatched || v.CompletedAt != nil || v.DispatchedAt != nil ||
		!strings.Contains(v.Action, "`busywork batch repair "+id+"`") || !strings.Contains(v.Action, "`busywork dlq replay --lane bulk --type generate_ticket`") {
		t.Fatalf("with failures: %+v, want 3 of 5 done, 3 and 5 failed with their errors, not complete, and what to do", v)
	}

	// The failed tickets succeed on a replay: the order completes.
	before := time.Now()
	for _, n := range []int{3, 5} {
		if _, err := e.store.MarkChildDone(ctx, id, n); err != nil {
			t.Fatal(err)
		}
	}
	v = e.getOrder(t, id)
	if *v.Done != 5 || len(v.Failed) != 0 || v.Errors != nil || !*v.Complete || *v.Dispatched || v.DispatchedAt != nil || v.Action != "" {
		t.Fatalf("complete: %+v, want 5 of 5 done, none failed, not dispatched, nothing to do yet", v)
	}
	within(t, "completed_at", v.CompletedAt, before, time.Now())

	// The last ticket could not enqueue the dispatch on its last receive.
	if err := e.store.MarkBatchStalled(ctx, id, 5, "enqueue the dispatch: injected"); err != nil {
		t.Fatal(err)
	}
	v = e.getOrder(t, id)
	if v.Stalled == nil || !slices.Equal(v.Stalled.Tickets, []int{5}) || v.Stalled.Reason != "enqueue the dispatch: injected" ||
		!strings.Contains(v.Action, "`busywork batch repair "+id+"`") {
		t.Fatalf("stalled: %+v (stall %+v), want ticket 5's stall and the repair", v, v.Stalled)
	}

	before = time.Now()
	if err := e.store.MarkBatchDispatched(ctx, id); err != nil {
		t.Fatal(err)
	}
	v = e.getOrder(t, id)
	if !*v.Complete || !*v.Dispatched || v.Stalled != nil || v.Action != "" {
		t.Fatalf("dispatched: %+v, want complete and dispatched, no stall", v)
	}
	within(t, "dispatched_at", v.DispatchedAt, before, time.Now())
}

func TestOrderStatus_UnknownOrMalformedOrderIs404JSON(t *testing.T) {
	e := newEnv(t, envOptions{})
	// A batch alone is no order.
	orphan := strings.ToLower(testenv.UniqueName(t, "batch-", 100))
	if _, err := e.store.CreateBatch(t.Context(), orphan, 1, nil, 0); err != nil {
		t.Fatal(err)
	}
	ids := []string{
		strings.ToLower(testenv.UniqueName(t, "order-", 100)),
		orphan,
		// No order has these ids; the longest is past DynamoDB's key limit.
		strings.Repeat("a", 129), strings.Repeat("a", 3000), "a%2Fb", "%20", "%FF",
	}
	for _, id := range ids {
		r := e.get(t, "/orders/"+id)
		if r.status != http.StatusNotFound || r.contentType != "application/json" || !strings.Contains(r.body, `"error":"no such order`) {
			t.Errorf("GET /orders/%.40s: %d %s %q, want a JSON 404", id, r.status, r.contentType, r.body)
		}
	}
}

func TestOrderStatus_DynamoDBFailureAnswers503WithRetryAfter(t *testing.T) {
	fault := &failingAWS{}
	e := newEnv(t, envOptions{ddbOpts: []func(*dynamodb.Options){func(o *dynamodb.Options) { o.HTTPClient = fault }}})
	id := strings.ToLower(testenv.UniqueName(t, "order-", 100))
	if _, err := e.store.PutOrder(t.Context(), ddb.Order{ID: id, Email: recipient(t, "ada"), Event: "Gala", Tickets: 1}, 0); err != nil {
		t.Fatal(err)
	}

	r := e.get(t, "/orders/"+id)
	if r.status != http.StatusServiceUnavailable || r.retryAfter != "1" || r.contentType != "application/json" ||
		!strings.Contains(r.body, `"error":"We could not take your request just now.`) {
		t.Fatalf("%d Retry-After %q %s %q, want a JSON 503 with Retry-After: 1", r.status, r.retryAfter, r.contentType, r.body)
	}
	fault.assertWithinDeadline(t, "DynamoDB", webapp.RequestTimeout)
}
