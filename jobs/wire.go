package jobs

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
)

// Message attribute names. The producer sets job_type, job_id and
// enqueued_at on every message, and signature when it has a signing key; the
// consumer adds error and failed_at to a message it dead-letters. A message
// on a lane's own queue that carries failed_at is a dead letter whose copy
// to the DLQ failed, parked there: the consumer sends it to the DLQ and
// never runs it. A replay from the DLQ drops both.
const (
	AttrJobType    = "job_type"
	AttrJobID      = "job_id"
	AttrEnqueuedAt = "enqueued_at"
	AttrSignature  = "signature"
	AttrError      = "error"
	AttrFailedAt   = "failed_at"
	// AttrGroupID names the fan-out group a job is a child (or the
	// follow-up) of; see package groups.
	AttrGroupID = "group_id"
	// AttrDueAt is the time (RFC 3339, UTC) before which the job must not
	// start: set by the producer for a delayed job, carried by every copy
	// the consumer makes on the way. A consumer that receives the message
	// earlier holds it, or sends a fresh copy delayed by up to SQS's 15
	// minutes (a hop), until then.
	AttrDueAt = "due_at"
	// AttrAttempts is how many times earlier copies of the job were tried
	// (a decimal number), set by the consumer on a fresh copy it sends in
	// place of a message: a snooze, a hop, a retry past the queue's
	// receive count. A message without it is the job's first copy.
	AttrAttempts = "attempts"
	// AttrTraceParent is the W3C trace context (a traceparent header:
	// version, trace id, parent span id, flags) of the send that
	// enqueued the job, set by a producer with tracing on; the consumer
	// continues the trace with the job's span. Every copy of the message
	// keeps it, so a retry, a snooze or a replay from the DLQ stays in
	// the same trace. It counts against SQS's 10 attributes (SQS's own
	// AWSTraceHeader system attribute would not, but the local SQS
	// emulator drops it; see docs/guarantees.md).
	AttrTraceParent = "traceparent"
)

// ErrMalformed is wrapped by the errors of Marshal, PeekType and Parse for
// JSON that is not an object of the expected shape.
var ErrMalformed = errors.New("malformed job")

// Marshal encodes job as a message body: the JSON object of its fields with
// a leading "type" field. The job's struct must encode to a JSON object and
// must not have a field named "type" of its own. Marshal does not call
// Validate.
func Marshal(job Job) ([]byte, error) {
	fields, err := json.Marshal(job)
	if err != nil {
		return nil, fmt.Errorf("encode %s job: %w", job.Type(), err)
	}
	if len(fields) < 2 || fields[0] != '{' {
		return nil, fmt.Errorf("encode %s job: %w: fields encode to %.20s, not an object", job.Type(), ErrMalformed, fields)
	}
	typ, err := json.Marshal(job.Type())
	if err != nil {
		return nil, fmt.Errorf("encode %s job: %w", job.Type(), err)
	}
	body := make([]byte, 0, len(`{"type":,`)+len(typ)+len(fields))
	body = append(body, `{"type":`...)
	body = append(body, typ...)
	if !bytes.Equal(fields, []byte("{}")) {
		body = append(body, ',')
	}
	return escapeNonCharacters(append(body, fields[1:]...)), nil
}

// SQS refuses a body holding U+FFFE or U+FFFF, which encoding/json leaves
// as they are. They can only stand inside JSON strings, where the escapes
// mean the same.
var (
	escapedFFFE = []byte(`\ufffe`)
	escapedFFFF = []byte(`\uffff`)
)

func escapeNonCharacters(body []byte) []byte {
	if !bytes.Contains(body, []byte{0xEF, 0xBF}) {
		return body
	}
	body = bytes.ReplaceAll(body, []byte("\uFFFE"), escapedFFFE)
	return bytes.ReplaceAll(body, []byte("\uFFFF"), escapedFFFF)
}

// PeekType returns the "type" field of a message body.
func PeekType(body []byte) (string, error) {
	var head struct {
		Type *string `json:"type"`
	}
	if err := json.Unmarshal(body, &head); err != nil {
		return "", fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if head.Type == nil || *head.Type == "" {
		return "", fmt.Errorf("%w: no \"type\" field", ErrMalformed)
	}
	return *head.Type, nil
}

// Sign returns the signature of body under key: the lower-case hex
// HMAC-SHA256. Only the body is signed, so any producer that holds the key
// can sign a message.
func Sign(key, body []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// Verify reports whether signature is body's signature under key, in
// constant time.
func Verify(key, body []byte, signature string) bool {
	got, err := hex.DecodeString(signature)
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, key)
	mac.Write(body)
	return hmac.Equal(got, mac.Sum(nil))
}
