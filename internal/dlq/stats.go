package dlq

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// NoError is the error group of dead letters without an error attribute:
// those SQS moved after maxReceiveCount receives.
const NoError = "(no error attribute: moved by the redrive policy after maxReceiveCount receives)"

// NoType is the type group of dead letters whose type neither a job_type
// attribute nor the body says.
const NoType = "(none)"

// Stats describes the messages of a dead-letter queue.
type Stats struct {
	// Queue and DeadLetterQueue name the queues.
	Queue, DeadLetterQueue string
	// Messages counts the messages received, each once.
	Messages int
	// Reported is the number of messages SQS reported when the scan began
	// (visible, in flight and delayed; approximate).
	Reported int
	// Types counts the messages by job type, most first.
	Types []Count
	// Errors counts the messages by error, most first. Errors that differ
	// only in ids, numbers, e-mail addresses and quoted values are one
	// group, shown with those replaced by placeholders.
	Errors []Count
	// Rows counts the messages by type and error group together, most
	// first: each row is one cause of one job type, and its Filter
	// selects its messages.
	Rows []Row
	// Oldest is when the oldest message entered the queue; zero when
	// there is none.
	Oldest time.Time
	// Retention is how long the dead-letter queue keeps a message.
	Retention time.Duration
	// Unreleased counts messages whose release SQS refused: they stay
	// hidden until their visibility timeout (15 s) ends.
	Unreleased int
	// At is when the scan ended.
	At time.Time
}

// Count is the number of messages in one group.
type Count struct {
	// Key names the group.
	Key string
	// N is how many messages it holds.
	N int
}

// Row is the number of messages of one job type with one error group.
type Row struct {
	// Type is their job type, or NoType.
	Type string
	// Error is their error group, or NoError.
	Error string
	// N is how many there are.
	N int
	// Oldest is when the oldest of them entered the dead-letter queue.
	Oldest time.Time
}

// Filter returns the filter that selects the row's messages.
func (r Row) Filter() Filter { return Filter{Type: r.Type, Group: r.Error} }

// Stats receives every message of the dead-letter queue, releasing each at
// once, and counts them.
func (q *Queue) Stats(ctx context.Context) (*Stats, error) {
	s, attrs, err := q.newScanner(ctx)
	if err != nil {
		return nil, err
	}
	t := newTally()
	for {
		msgs, err := s.next(ctx, maxBatch, readHold)
		if err != nil {
			return nil, err
		}
		if len(msgs) == 0 {
			break
		}
		for _, m := range msgs {
			t.add(newLetter(m))
		}
		s.release(msgs)
	}
	st := t.stats()
	st.Queue, st.DeadLetterQueue = q.Name, q.DeadLetterName
	st.Reported, st.Retention, st.Unreleased = attrs.count, attrs.retention, s.unreleased
	return st, ctx.Err()
}

// tally counts letters by type and error group.
type tally struct {
	n      int
	types  map[string]int
	errors map[string]int
	rows   map[[2]string]*Row
	oldest time.Time
}

func newTally() *tally {
	return &tally{types: make(map[string]int), errors: make(map[string]int), rows: make(map[[2]string]*Row)}
}

func (t *tally) add(l *Letter) {
	typ, group := cmp.Or(l.Type, NoType), errorGroup(l.Error)
	t.n++
	t.types[typ]++
	t.errors[group]++
	r := t.rows[[2]string{typ, group}]
	if r == nil {
		r = &Row{Type: typ, Error: group}
		t.rows[[2]string{typ, group}] = r
	}
	r.N++
	r.Oldest = older(r.Oldest, l.SentAt)
	t.oldest = older(t.oldest, l.SentAt)
}

// older returns the earlier of a and b, the zero time standing for none.
func older(a, b time.Time) time.Time {
	if a.IsZero() || (!b.IsZero() && b.Before(a)) {
		return b
	}
	return a
}

func (t *tally) stats() *Stats {
	rows := make([]Row, 0, len(t.rows))
	for _, r := range t.rows {
		rows = append(rows, *r)
	}
	slices.SortFunc(rows, func(a, b Row) int {
		return cmp.Or(b.N-a.N, strings.Compare(a.Type, b.Type), strings.Compare(a.Error, b.Error))
	})
	return &Stats{Messages: t.n, Types: counts(t.types), Errors: counts(t.errors), Rows: rows, Oldest: t.oldest, At: time.Now()}
}

func counts(m map[string]int) []Count {
	out := make([]Count, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, Count{k, m[k]})
	}
	slices.SortStableFunc(out, func(a, b Count) int { return b.N - a.N })
	return out
}

var (
	uuids   = regexp.MustCompile(`\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b`)
	emails  = regexp.MustCompile(`[^\s@"'<>(),;:]+@[^\s@"'<>(),;:]+`)
	quoted  = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	ids     = regexp.MustCompile(`\b[A-Za-z0-9_-]*[0-9][A-Za-z0-9_-]*\b`)
	numbers = regexp.MustCompile(`(^|[^A-Za-z0-9_<])[0-9]+(?:\.[0-9]+)*`)
	spaces  = regexp.MustCompile(`\s+`)
)

// errorGroup returns the group of an error text: the text with UUIDs and
// other ids (words of 8 or more letters, digits, '-' and '_' that hold a
// digit) replaced by <id>, e-mail addresses by <email>, quoted values by
// "…" and numbers by <n>, and spaces collapsed; NoError for "".
func errorGroup(text string) string {
	text = strings.TrimSpace(text)
	if text == "" {
		return NoError
	}
	text = uuids.ReplaceAllString(text, "<id>")
	text = emails.ReplaceAllString(text, "<email>")
	text = quoted.ReplaceAllString(text, `"…"`)
	text = ids.ReplaceAllStringFunc(text, func(w string) string {
		if len(w) >= 8 && strings.Trim(w, "0123456789") != "" {
			return "<id>"
		}
		return w
	})
	text = numbers.ReplaceAllString(text, "$1<n>")
	return spaces.ReplaceAllString(text, " ")
}

// queueAttrs are what Stats and scans read of the dead-letter queue.
type queueAttrs struct {
	count     int
	retention time.Duration
}

func (q *Queue) deadLetterAttributes(ctx context.Context) (queueAttrs, error) {
	names := []types.QueueAttributeName{
		types.QueueAttributeNameApproximateNumberOfMessages,
		types.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
		types.QueueAttributeNameApproximateNumberOfMessagesDelayed,
		types.QueueAttributeNameMessageRetentionPeriod,
	}
	out, err := q.client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String(q.DeadLetterURL), AttributeNames: names})
	if err != nil {
		return queueAttrs{}, fmt.Errorf("dead-letter queue %s: %w", q.DeadLetterName, err)
	}
	var a queueAttrs
	for _, name := range names[:3] {
		n, _ := strconv.Atoi(out.Attributes[string(name)]) // absent counts 0
		a.count += n
	}
	secs, _ := strconv.Atoi(out.Attributes[string(types.QueueAttributeNameMessageRetentionPeriod)])
	a.retention = time.Duration(secs) * time.Second
	return a, nil
}

// Write prints s as a person reads it: the totals, the age of the oldest
// message, and aligned tables of the counts by type and by error.
func (s *Stats) Write(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "dead-letter queue\t%s (of %s)\n", s.DeadLetterQueue, s.Queue)
	fmt.Fprintf(tw, "messages\t%d received (SQS counted %d when the scan began)\n", s.Messages, s.Reported)
	if !s.Oldest.IsZero() {
		fmt.Fprintf(tw, "oldest\t%s, %s ago (the queue keeps a message %s from when it entered)\n",
			s.Oldest.UTC().Format(time.RFC3339), s.At.Sub(s.Oldest).Round(time.Second), days(s.Retention))
	}
	if s.Unreleased > 0 {
		fmt.Fprintf(tw, "unreleased\t%d (SQS refused to release them; visible again within %s)\n", s.Unreleased, readHold)
	}
	if err := tw.Flush(); err != nil || s.Messages == 0 {
		return err
	}
	return WriteCounts(w, s.Types, s.Errors)
}

// WriteCounts prints aligned tables of counts by type and by error, each
// after an empty line, the count first so that a long error ends its line.
func WriteCounts(w io.Writer, byType, byError []Count) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, t := range []struct {
		title string
		cs    []Count
	}{{"TYPE", byType}, {"ERROR", byError}} {
		fmt.Fprintf(tw, "\nMESSAGES\t%s\n", t.title)
		for _, c := range t.cs {
			fmt.Fprintf(tw, "%d\t%s\n", c.N, cell(c.Key, 300))
		}
	}
	return tw.Flush()
}

// days formats a retention period as days when it is a whole number of
// them.
func days(d time.Duration) string {
	if d > 0 && d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%d days", d/(24*time.Hour))
	}
	return d.String()
}

// cell returns s on one line, with what a terminal could act on escaped
// (Escaped: \n, \x1b, \u202e), cut to n characters with an ellipsis.
func cell(s string, n int) string {
	s = Escaped(s)
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
