package busywork

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/busywork/busywork/internal/dlq"
)

// plainEvery is how often a replay whose stderr is not a terminal prints
// a progress line.
const plainEvery = time.Second

// progress shows how far a replay has come: a progress bar when w is a
// terminal, else a plain line at most every plainEvery.
type progress struct {
	w      io.Writer
	dryRun bool
	bar    *progressbar.ProgressBar // nil when w is not a terminal
	last   time.Time
	latest dlq.Progress
	shown  *dlq.Progress // the progress of the last plain line
}

func newProgress(w io.Writer, dryRun bool) *progress {
	p := &progress{w: w, dryRun: dryRun}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.bar = progressbar.NewOptions(-1,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription("replay"),
			progressbar.OptionShowCount(),
			progressbar.OptionShowIts(),
			progressbar.OptionSetItsString("msg"),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish(),
		)
	}
	return p
}

// update is the replay's Progress callback.
func (p *progress) update(pr dlq.Progress) {
	p.latest = pr
	if p.bar == nil {
		if time.Since(p.last) >= plainEvery {
			p.last = time.Now()
			p.line()
		}
		return
	}
	if max := max(pr.Expected, pr.Matched); int64(max) != p.bar.GetMax64() {
		p.bar.ChangeMax(max)
	}
	p.bar.Describe(fmt.Sprintf("replay: %d failed, %d skipped", pr.Failed, pr.Skipped))
	_ = p.bar.Set(p.done()) // a terminal that cannot be written to has nothing to show
}

// finish ends the bar, or prints the last plain line unless it was shown.
func (p *progress) finish() {
	if p.bar != nil {
		_ = p.bar.Finish() // the summary follows on stdout whatever the bar did
		return
	}
	p.line()
}

// done counts the matching messages dealt with: moved or failed, or for
// a dry run matched.
func (p *progress) done() int {
	if p.dryRun {
		return p.latest.Matched
	}
	return p.latest.Moved + p.latest.Failed
}

func (p *progress) line() {
	if p.shown != nil && *p.shown == p.latest {
		return
	}
	p.shown = &dlq.Progress{}
	*p.shown = p.latest
	pr, verb := p.latest, "moved"
	if p.dryRun {
		verb = "would move"
	}
	fmt.Fprintf(p.w, "replay: %s %d (of about %d), %d failed, %d skipped\n", verb, p.done(), pr.Expected, pr.Failed, pr.Skipped)
}
