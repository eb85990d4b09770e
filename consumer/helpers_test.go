package consumer_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go/middleware"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/busywork/busywork/consumer"
	"github.com/busywork/busywork/jobs"
)

// welcome is a job type of the tests' own, as a service declares one: a
// user's welcome email.
type welcome struct {
	UserID string `json:"user_id"`
}

func (welcome) Type() string { return "welcome_email" }

// Validate refuses a user id that is not 1 to 63 lower-case letters,
// digits and '-'.
func (j welcome) Validate() error {
	if j.UserID == "" || len(j.UserID) > 63 || strings.ContainsFunc(j.UserID, func(r rune) bool {
		return !(r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z')
	}) {
		return fmt.Errorf("user_id: %q is not 1 to 63 lower-case letters, digits and '-'", j.UserID)
	}
	return nil
}

// running is a consumer serving in the background of a test.
type running struct {
	*consumer.Consumer
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
}

// start runs a consumer until stop is called or the test ends.
func start(t *testing.T, client consumer.SQSAPI, mux *consumer.Mux, cfg consumer.Config) *running {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(t.Output(), nil))
	}
	if cfg.DrainTimeout == 0 {
		cfg.DrainTimeout = 5 * time.Second
	}
	c, err := consumer.New(client, mux, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	r := &running{Consumer: c, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- c.Run(ctx) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop shuts the consumer down and returns once Run has.
func (r *running) stop(t *testing.T) {
	t.Helper()
	r.once.Do(func() {
		r.cancel()
		select {
		case err := <-r.done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(time.Minute):
			t.Fatal("Run did not return within a minute of its context ending")
		}
	})
}

// enqueue sends jobs the way busywork's producer does: marshalled body and
// job_type and job_id attributes. It returns the job ids.
func enqueue(t *testing.T, client *sqs.Client, queueURL string, js ...jobs.Job) []string {
	t.Helper()
	ids := make([]string, len(js))
	for start := 0; start < len(js); start += 10 {
		var entries []types.SendMessageBatchRequestEntry
		for i := start; i < min(start+10, len(js)); i++ {
			body, err := jobs.Marshal(js[i])
			if err != nil {
				t.Fatal(err)
			}
			ids[i] = "job-" + strconv.Itoa(i) + "-" + strconv.FormatInt(time.Now().UnixNano(), 36)
			entries = append(entries, types.SendMessageBatchRequestEntry{
				Id:          aws.String(strconv.Itoa(i)),
				MessageBody: aws.String(string(body)),
				MessageAttributes: map[string]types.MessageAttributeValue{
					jobs.AttrJobType: {DataType: aws.String("String"), StringValue: aws.String(js[i].Type())},
					jobs.AttrJobID:   {DataType: aws.String("String"), StringValue: aws.String(ids[i])},
				},
			})
		}
		out, err := client.SendMessageBatch(t.Context(), &sqs.SendMessageBatchInput{QueueUrl: aws.String(queueURL), Entries: entries})
		if err != nil || len(out.Failed) > 0 {
			t.Fatalf("enqueue: %v %+v", err, out)
		}
	}
	return ids
}

// sendRaw sends body with no attributes, as another producer might.
func sendRaw(t *testing.T, client *sqs.Client, queueURL, body string) {
	t.Helper()
	if _, err := client.SendMessage(t.Context(), &sqs.SendMessageInput{QueueUrl: aws.String(queueURL), MessageBody: aws.String(body)}); err != nil {
		t.Fatal(err)
	}
}

// pings returns n ping jobs whose messages are "0" to "n-1".
func pings(n int) []jobs.Job {
	js := make([]jobs.Job, n)
	for i := range js {
		js[i] = jobs.Ping{Message: strconv.Itoa(i)}
	}
	return js
}

// tally counts handled jobs by key, safely from many goroutines, and lets
// a test wait until a condition on the counts holds.
type tally struct {
	mu      sync.Mutex
	n       map[string]int
	changed chan struct{}
}

func newTally() *tally { return &tally{n: make(map[string]int), changed: make(chan struct{})} }

func (c *tally) add(key string) {
	c.mu.Lock()
	c.n[key]++
	close(c.changed)
	c.changed = make(chan struct{})
	c.mu.Unlock()
}

func (c *tally) snapshot() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.n))
	for k, v := range c.n {
		out[k] = v
	}
	return out
}

// await waits until cond holds for the counts, failing the test after d.
func (c *tally) await(t *testing.T, d time.Duration, what string, cond func(map[string]int) bool) {
	t.Helper()
	deadline := time.After(d)
	for {
		c.mu.Lock()
		ok, changed := cond(c.n), c.changed
		c.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("after %s: %s did not happen; counts %v", d, what, c.snapshot())
		}
	}
}

// calls records the inputs of every SQS call a client makes, by operation.
type calls struct {
	mu     sync.Mutex
	inputs map[string][]any
}

// record is an sqs.Options func adding the recording middleware.
func (c *calls) record(o *sqs.Options) {
	o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
		return s.Initialize.Add(middleware.InitializeMiddlewareFunc("recordCalls",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				c.mu.Lock()
				if c.inputs == nil {
					c.inputs = make(map[string][]any)
				}
				op := middleware.GetOperationName(ctx)
				c.inputs[op] = append(c.inputs[op], in.Parameters)
				c.mu.Unlock()
				return next.HandleInitialize(ctx, in)
			}), middleware.Before)
	})
}

func (c *calls) count(op string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.inputs[op])
}

// receiveNone fails the test if a message shows up on queueURL within d.
func receiveNone(t *testing.T, client *sqs.Client, queueURL string, d time.Duration) {
	t.Helper()
	out, err := client.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{
		QueueUrl: aws.String(queueURL), WaitTimeSeconds: int32(d / time.Second), MaxNumberOfMessages: 10,
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range out.Messages {
		t.Errorf("unexpected message on %s: %s", queueURL, aws.ToString(m.Body))
	}
}

var errBoom = errors.New("boom")

// delay is an sqs.Options func that holds every call of operation op for
// d before it goes out to the emulator: a slow SQS, injected.
func delay(op string, d time.Duration) func(*sqs.Options) {
	return around(op, func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return middleware.InitializeOutput{}, middleware.Metadata{}, ctx.Err()
		}
		return next.HandleInitialize(ctx, in)
	})
}

// around is an sqs.Options func that wraps every call of operation op, in
// front of the emulator, with fn.
func around(op string, fn func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error)) func(*sqs.Options) {
	return func(o *sqs.Options) {
		o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
			return s.Initialize.Add(middleware.InitializeMiddlewareFunc("around"+op,
				func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
					if middleware.GetOperationName(ctx) != op {
						return next.HandleInitialize(ctx, in)
					}
					return fn(ctx, in, next)
				}), middleware.After)
		})
	}
}

// visibilities returns the VisibilityTimeout of every entry of the
// ChangeMessageVisibilityBatch calls recorded, in order.
func (c *calls) visibilities() []int32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []int32
	for _, in := range c.inputs["ChangeMessageVisibilityBatch"] {
		for _, e := range in.(*sqs.ChangeMessageVisibilityBatchInput).Entries {
			out = append(out, e.VisibilityTimeout)
		}
	}
	return out
}

// logBuffer collects a consumer's JSON log lines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) logger() *slog.Logger { return slog.New(slog.NewJSONHandler(b, nil)) }

// outcome returns the outcome logged for job id, or "".
func (b *logBuffer) outcome(id string) string {
	for _, line := range strings.Split(b.String(), "\n") {
		var rec struct {
			JobID   string `json:"job_id"`
			Outcome string `json:"outcome"`
		}
		if json.Unmarshal([]byte(line), &rec) == nil && rec.JobID == id && rec.Outcome != "" {
			return rec.Outcome
		}
	}
	return ""
}

// waitFor waits until cond holds, failing the test with what() after d.
func waitFor(t *testing.T, d time.Duration, cond func() bool, what func() string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal(what())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// jobsUnmarshal decodes m's body into v.
func jobsUnmarshal(m types.Message, v any) error {
	return json.Unmarshal([]byte(aws.ToString(m.Body)), v)
}

func stringAttr(s string) types.MessageAttributeValue {
	return types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(s)}
}

// counterSum adds up the samples of the counter called name in reg.
func counterSum(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, f := range families {
		if f.GetName() == name {
			for _, m := range f.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

// sqsCharset is an sqs.Options func that refuses, as SQS does and fauxqs
// does not, a SendMessage whose body or string attribute values hold a
// character outside #x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD |
// #x10000-#x10FFFF.
func sqsCharset(o *sqs.Options) {
	around("SendMessage", func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
		p := in.Parameters.(*sqs.SendMessageInput)
		values := []string{aws.ToString(p.MessageBody)}
		for _, v := range p.MessageAttributes {
			values = append(values, aws.ToString(v.StringValue))
		}
		for _, v := range values {
			for i, r := range v {
				ok := r == 0x9 || r == 0xA || r == 0xD || (r >= 0x20 && r <= 0xD7FF) ||
					(r >= 0xE000 && r <= 0xFFFD) || (r >= 0x10000 && r <= 0x10FFFF)
				if !ok || (r == utf8.RuneError && !strings.HasPrefix(v[i:], "\uFFFD")) {
					return middleware.InitializeOutput{}, middleware.Metadata{},
						fmt.Errorf("injected as SQS answers: InvalidParameterValue: invalid character %U in %q", r, v)
				}
			}
		}
		return next.HandleInitialize(ctx, in)
	})(o)
}
