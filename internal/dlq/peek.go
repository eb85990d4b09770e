package dlq

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
)

// DefaultPeekMax is the default of PeekOptions.Max.
const DefaultPeekMax = 10

// PeekOptions says which dead letters Peek returns.
type PeekOptions struct {
	// Max is the most letters returned. Default DefaultPeekMax.
	Max int
	// Filter selects the letters.
	Filter Filter
}

// Peek receives messages of the dead-letter queue until it holds opts.Max
// that match opts.Filter or has seen them all, releasing every message at
// once, and returns the matching ones in the order received.
func (q *Queue) Peek(ctx context.Context, opts PeekOptions) ([]*Letter, error) {
	if opts.Max <= 0 {
		opts.Max = DefaultPeekMax
	}
	s, _, err := q.newScanner(ctx)
	if err != nil {
		return nil, err
	}
	var letters []*Letter
	for len(letters) < opts.Max {
		msgs, err := s.next(ctx, maxBatch, readHold)
		if err != nil {
			return letters, err
		}
		if len(msgs) == 0 {
			break
		}
		for _, m := range msgs {
			if l := newLetter(m); len(letters) < opts.Max && opts.Filter.Match(l) {
				l.Queue = q.DeadLetterName
				letters = append(letters, l)
			}
		}
		s.release(msgs)
	}
	if s.unreleased > 0 {
		return letters, fmt.Errorf("SQS did not release %d messages: they are visible again within %s", s.unreleased, readHold)
	}
	return letters, ctx.Err()
}

// WriteTable prints letters as an aligned table, one row each, with long
// errors and bodies cut and control characters escaped (Escaped).
func WriteTable(w io.Writer, letters []*Letter) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "JOB_ID\tTYPE\tRECEIVES\tFAILED_AT\tERROR\tBODY")
	for _, l := range letters {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\n", cell(l.JobID, 40), cell(cmp.Or(l.Type, NoType), 30), l.ReceiveCount,
			cell(cmp.Or(l.FailedAt, "-"), 30), cell(cmp.Or(l.Error, "-"), 60), cell(l.Body, 60))
	}
	return tw.Flush()
}

// WriteJSON prints letters as JSON lines, one object each, whole, with
// every control, format or other non-printing character of their strings
// written as a \u escape: the JSON decodes to the same letters, and a
// terminal that shows it acts on none of them.
func WriteJSON(w io.Writer, letters []*Letter) error {
	for _, l := range letters {
		line, err := json.Marshal(l)
		if err != nil {
			return err
		}
		if _, err := w.Write(append(escapeJSON(line), '\n')); err != nil {
			return err
		}
	}
	return nil
}

// String names the letter by job id and type, as in "job 3B6Y... (ping)",
// escaped (Escaped): both come from the message's sender.
func (l *Letter) String() string {
	return "job " + Escaped(l.JobID) + " (" + Escaped(cmp.Or(l.Type, NoType)) + ")"
}
