//go:build linux

package bench_test

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// printSummary writes head, a table of results (by scenario, then
// consumer) and the goals of engine v2 (issue 15) to w. Every line but the
// first is indented, so that benchstat reads none of it as a result or a
// configuration line.
func printSummary(w io.Writer, head string, results map[string]map[string]figures) {
	fmt.Fprintln(w, head)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "  scenario\tconsumer\tjobs/s\tslot-eff\treq/job\tcpu-us/job\tpeak-RSS-MB\tmax-gap-s\tstall\tp50-ms\tp99-ms\t")
	for _, sc := range []string{noop10, noop100, slow10, idle10} {
		for _, name := range consumerNames {
			f, ok := results[sc][name]
			if !ok {
				continue
			}
			slot, p50, p99, stall := "-", "-", "-", "no"
			if f.slotEfficiency > 0 {
				slot = fmt.Sprintf("%.2f", f.slotEfficiency)
			}
			if sc == idle10 {
				p50, p99 = ms(f.p50), ms(f.p99)
			}
			if f.stalled {
				stall = "STALL"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%.0f\t%s\t%.4f\t%.1f\t%.1f\t%.1f\t%s\t%s\t%s\t\n",
				sc, name, f.jobsPerSec, slot, f.requestsPerJob, float64(f.cpuPerJob)/float64(time.Microsecond),
				f.peakRSS, f.maxGap.Seconds(), stall, p50, p99)
		}
	}
	tw.Flush()

	fmt.Fprintln(w, "  goals of issue 15, busywork against gocdk in this run")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, g := range goals(results) {
		fmt.Fprintf(tw, "    %s\t%s\t%s\t%s\n", g.what, g.got, g.want, g.verdict)
	}
	tw.Flush()
}

// goal is one line of the summary's goals.
type goal struct {
	what, got, want, verdict string
}

// goals measures results against issue 15's goals.
func goals(results map[string]map[string]figures) []goal {
	bw, bwOK := results[noop10]["busywork"]
	cdk, cdkOK := results[noop10]["gocdk"]
	both := bwOK && cdkOK
	var gs []goal
	add := func(what string, known bool, got func() (string, bool), want string) {
		g := goal{what: what, got: "-", want: "goal " + want, verdict: "not run"}
		if known {
			var met bool
			g.got, met = got()
			g.verdict = map[bool]string{true: "met", false: "MISSED"}[met]
		}
		gs = append(gs, g)
	}
	add("jobs/s busywork/gocdk, c=10", both, func() (string, bool) {
		r := bw.jobsPerSec / cdk.jobsPerSec
		return fmt.Sprintf("x%.2f", r), r >= 1.4
	}, ">= x1.40")
	add("SQS requests per job, c=10", bwOK, func() (string, bool) {
		return fmt.Sprintf("%.4f", bw.requestsPerJob), bw.requestsPerJob <= 0.205
	}, "<= 0.205")
	add("CPU per job busywork/gocdk, c=10", both, func() (string, bool) {
		r := float64(bw.cpuPerJob) / float64(cdk.cpuPerJob)
		return fmt.Sprintf("x%.2f", r), r <= 0.5
	}, "<= x0.50")
	add("peak RSS, c=10", bwOK, func() (string, bool) {
		return fmt.Sprintf("%.1f MB", bw.peakRSS), bw.peakRSS < 25
	}, "< 25 MB")
	var ran, stalled []string
	for _, sc := range []string{noop10, noop100, slow10, idle10} {
		if f, ok := results[sc]["busywork"]; ok {
			ran = append(ran, sc)
			if f.stalled {
				stalled = append(stalled, sc)
			}
		}
	}
	add("stalls in busywork's drains", len(ran) > 0, func() (string, bool) {
		if len(stalled) == 0 {
			return "none", true
		}
		return strings.Join(stalled, " "), false
	}, "none")
	idle, idleOK := results[idle10]["busywork"]
	add("idle start latency p99", idleOK, func() (string, bool) {
		return ms(idle.p99) + " ms", idle.p99 < 50*time.Millisecond
	}, "< 50 ms")
	slow, slowOK := results[slow10]["busywork"]
	add("slot efficiency, 100 ms jobs, c=10", slowOK, func() (string, bool) {
		return fmt.Sprintf("%.2f", slow.slotEfficiency), slow.slotEfficiency >= 0.9
	}, ">= 0.90")
	return gs
}

// ms formats d in milliseconds.
func ms(d time.Duration) string {
	return fmt.Sprintf("%.1f", float64(d)/float64(time.Millisecond))
}
