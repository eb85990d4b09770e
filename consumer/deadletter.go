package consumer

import (
	"context"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/busywork/busywork/jobs"
)

const (
	// maxAttributes is the most message attributes SQS takes.
	maxAttributes = 10
	// maxReasonBytes bounds the error attribute of a dead letter.
	maxReasonBytes = 1024
	// maxUndead bounds the messages remembered as waiting for redrive.
	maxUndead = 10000
)

// keptFirst are the attributes a dead letter keeps before any other of the
// original's: what identifies the job and proves where it came from.
var keptFirst = []string{jobs.AttrJobID, jobs.AttrJobType, jobs.AttrSignature}

// deadLetter copies m to the lane's DLQ: the same body, the attributes
// error (why, cleaned to the characters SQS takes) and failed_at (when),
// then job_id, job_type and signature, then the original's other
// attributes in name order while they fit in SQS's 10; any it drops are
// logged. A message that arrived with only a body keeps its job id: the
// copy's job_id is the original's MessageId, so a replay is recognised as
// the same job.
func (l *lane) deadLetter(m *message, reason error) error {
	attrs := map[string]types.MessageAttributeValue{
		jobs.AttrError:    stringAttr(attributeText(reason.Error(), maxReasonBytes)),
		jobs.AttrFailedAt: stringAttr(l.c.now().UTC().Format(time.RFC3339Nano)),
		jobs.AttrJobID:    stringAttr(m.delivery.ID),
	}
	if m.delivery.Type != "" {
		attrs[jobs.AttrJobType] = stringAttr(m.delivery.Type)
	}
	names := make([]string, 0, len(m.msg.MessageAttributes))
	for name := range m.msg.MessageAttributes {
		names = append(names, name)
	}
	sort.Strings(names)
	var dropped []string
	for _, name := range append(keptFirst, names...) {
		v, ok := m.msg.MessageAttributes[name]
		if _, ours := attrs[name]; !ok || ours {
			continue
		}
		if len(attrs) == maxAttributes {
			dropped = append(dropped, name)
			continue
		}
		attrs[name] = v
	}
	if len(dropped) > 0 {
		l.log.Warn("dead letter: attributes dropped to fit SQS's limit of 10", "job_id", m.delivery.ID, "dropped", dropped)
	}
	ctx, cancel := context.WithTimeout(context.Background(), l.callTimeout)
	defer cancel()
	_, err := l.c.client.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl:          aws.String(l.dlqURL),
		MessageBody:       m.msg.Body,
		MessageAttributes: attrs,
	})
	return err
}

func stringAttr(s string) types.MessageAttributeValue {
	return types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(s)}
}

// attributeText returns s as an SQS attribute value takes it: characters
// outside #x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD | #x10000-#x10FFFF
// (invalid UTF-8 included) replaced by U+FFFD, and cut to at most n bytes
// without splitting a character.
func attributeText(s string, n int) string {
	var b strings.Builder
	for _, r := range s {
		if !allowedRune(r) {
			r = utf8.RuneError
		}
		if b.Len()+utf8.RuneLen(r) > n {
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}

func allowedRune(r rune) bool {
	switch {
	case r == '\t' || r == '\n' || r == '\r':
		return true
	case r == utf8.RuneError: // also what ranging yields for invalid UTF-8
		return false
	case r >= 0x20 && r <= 0xD7FF, r >= 0xE000 && r <= 0xFFFD, r >= 0x10000 && r <= 0x10FFFF:
		return true
	}
	return false
}

// undeadSet remembers, by MessageId, the messages that failed for good but
// could not be copied to the DLQ, with why they failed: when such a
// message is received again, the copy is tried again instead of its job.
// It forgets the oldest past maxUndead; a restarted worker forgets all.
type undeadSet struct {
	mu    sync.Mutex
	why   map[string]error
	order []string
}

func newUndeadSet() *undeadSet { return &undeadSet{why: make(map[string]error)} }

func (s *undeadSet) put(id string, why error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.why[id]; !ok {
		s.order = append(s.order, id)
	}
	s.why[id] = why
	for len(s.order) > maxUndead {
		delete(s.why, s.order[0])
		s.order = s.order[1:]
	}
}

func (s *undeadSet) get(id string) (error, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	why, ok := s.why[id]
	return why, ok
}

func (s *undeadSet) drop(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.why[id]; ok {
		delete(s.why, id)
		for i, o := range s.order {
			if o == id {
				s.order = append(s.order[:i], s.order[i+1:]...)
				break
			}
		}
	}
}
