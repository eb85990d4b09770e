package testenv

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// SQSCapture is an SQS client's HTTP client that records the body of
// every request, then passes it on to the emulator: for what the
// emulator accepts and ignores, such as a standard queue's
// MessageGroupId (SQS fair queues), which fauxqs neither acts on nor
// returns. Put it in front of a client with Option. It is safe for
// concurrent use.
type SQSCapture struct {
	next sqs.HTTPClient

	mu       sync.Mutex
	requests []capturedRequest
}

type capturedRequest struct {
	op   string // from the X-Amz-Target header, as "SendMessage"
	body []byte // JSON
}

// Do records req and sends it on.
func (c *SQSCapture) Do(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		var err error
		if body, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
	}
	_, op, _ := strings.Cut(req.Header.Get("X-Amz-Target"), ".")
	c.mu.Lock()
	c.requests = append(c.requests, capturedRequest{op, body})
	c.mu.Unlock()
	return c.next.Do(req)
}

// Option returns the SDK option that puts c in front of the client's own
// HTTP client.
func (c *SQSCapture) Option() func(*sqs.Options) {
	return func(o *sqs.Options) { c.next, o.HTTPClient = o.HTTPClient, c }
}

// Requests returns how many requests c has seen.
func (c *SQSCapture) Requests() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.requests)
}

// GroupIDs returns the MessageGroupId of every message that the captured
// SendMessage and SendMessageBatch requests carried, keyed by the
// message's body ("" for a message sent without one; a body sent twice
// keeps its last).
func (c *SQSCapture) GroupIDs(t testing.TB) map[string]string {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	type entry struct{ MessageBody, MessageGroupId *string }
	got := map[string]string{}
	for _, r := range c.requests {
		if r.op != "SendMessage" && r.op != "SendMessageBatch" {
			continue
		}
		var in struct {
			entry
			Entries []entry
		}
		if err := json.Unmarshal(r.body, &in); err != nil {
			t.Fatalf("testenv: %s request body %s: %v", r.op, r.body, err)
		}
		if r.op == "SendMessage" {
			in.Entries = []entry{in.entry}
		}
		for _, e := range in.Entries {
			got[aws.ToString(e.MessageBody)] = aws.ToString(e.MessageGroupId)
		}
	}
	return got
}
