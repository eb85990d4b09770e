//go:build linux

package bench_test

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/busywork/busywork/bench/internal/rtt"
)

// cell names one sub-benchmark's results: a consumer in a scenario at a
// round trip.
type cell struct{ rtt, scenario, consumer string }

// results are what BenchmarkDrain measured, for its summary.
type results struct {
	// rtts are the round trips that ran, in order.
	rtts []string
	// figs are the drains' figures.
	figs map[cell]figures
	// crashes are the SIGKILL runs' figures (scenario "crash/c=N").
	crashes map[cell]crashFigures
	// proxies are the proxies' stats by round trip, once its drains ran.
	proxies map[string]rtt.Stats
}

func newResults() *results {
	return &results{
		figs:    make(map[cell]figures),
		crashes: make(map[cell]crashFigures),
		proxies: make(map[string]rtt.Stats),
	}
}

// Rows of the summary's table in each round trip: the scenarios in this
// order (then the ideal client's), each consumer in this order.
var (
	rowScenarios = []string{noop10, noop100, idle10, slow10}
	rowConsumers = []string{busywork, gocdk, naive, ceiling}
)

// printSummary writes head, a table of res (by round trip, scenario and
// consumer; the reruns of a SIGKILL run in the row of the no-op drain at
// its concurrency), the proxies' lateness, the goals at SQS's round trip,
// the ceiling at each round trip and the goals of engine v2 (issue 15) to
// w. Every line but the first is indented, so that benchstat reads none of
// it as a result or a configuration line.
func printSummary(w io.Writer, head string, res *results) {
	fmt.Fprintln(w, head)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "  rtt\tscenario\tconsumer\tjobs/s\treq/job\tcpu-us/job\tpeak-RSS-MB\treruns\tproxy-us/req\tmax-gap-s\tstall\tslot-eff\tp50-ms\tp99-ms\t")
	for _, r := range res.rtts {
		for _, sc := range res.scenarios(r) {
			for _, name := range rowConsumers {
				if row, ok := res.row(r, sc, name); ok {
					fmt.Fprintln(tw, "  "+strings.Join(row, "\t")+"\t")
				}
			}
		}
	}
	tw.Flush()
	for _, r := range res.rtts {
		if s, ok := res.proxies[r]; ok {
			fmt.Fprintf(w, "  proxy at %s: %d connections, %d chunks held %s past the round trip on average, at most %s\n",
				r, s.Conns, s.Chunks, s.MeanLate().Round(time.Microsecond), s.MaxLate.Round(time.Microsecond))
		}
	}
	printGoals(w, "goals at SQS's round trip, busywork against gocdk in this run", rttGoals(res))
	fmt.Fprintln(w, "  the emulator's ceiling (the ideal client, best of its goroutine counts) and each consumer's share of it")
	for _, line := range ceilingLines(res) {
		fmt.Fprintln(w, "    "+line)
	}
	printGoals(w, "goals of issue 15 on the loopback, busywork against gocdk in this run", issue15Goals(res))
}

// scenarios returns the scenarios of round trip r that have a row: those
// of rowScenarios, then the ideal client's by goroutines.
func (res *results) scenarios(r string) []string {
	var ceilings []string
	for c := range res.figs {
		if c.rtt == r && c.consumer == ceiling && !slices.Contains(ceilings, c.scenario) {
			ceilings = append(ceilings, c.scenario)
		}
	}
	slices.SortFunc(ceilings, func(a, b string) int { return concurrencyOf(a) - concurrencyOf(b) })
	return append(slices.Clone(rowScenarios), ceilings...)
}

// row returns the table's cells for a consumer in a scenario at round
// trip r, and whether anything ran there.
func (res *results) row(r, sc, name string) ([]string, bool) {
	f, ran := res.figs[cell{r, sc, name}]
	cr, crashed := res.crashes[cell{r, crashScenario(sc), name}]
	if !ran && !crashed {
		return nil, false
	}
	row := []string{r, sc, name, "-", "-", "-", "-", "-", "-", "-", "-", "-", "-", "-"}
	if ran {
		row[3] = fmt.Sprintf("%.0f", f.jobsPerSec)
		row[4] = fmt.Sprintf("%.4f", f.requestsPerJob)
		row[5] = fmt.Sprintf("%.1f", us(f.cpuPerJob))
		row[6] = fmt.Sprintf("%.1f", f.peakRSS)
		if f.parentPerRequest > 0 {
			row[8] = fmt.Sprintf("%.1f", us(f.parentPerRequest))
		}
		row[9] = fmt.Sprintf("%.1f", f.maxGap.Seconds())
		row[10] = map[bool]string{false: "no", true: "STALL"}[f.stalled]
		if f.slotEfficiency > 0 {
			row[11] = fmt.Sprintf("%.2f", f.slotEfficiency)
		}
		if sc == idle10 {
			row[12], row[13] = ms(f.p50), ms(f.p99)
		}
	}
	if crashed {
		row[7] = fmt.Sprint(cr.reruns)
	}
	return row, true
}

// printGoals writes a heading and the goals gs to w.
func printGoals(w io.Writer, heading string, gs []goal) {
	fmt.Fprintln(w, "  "+heading)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, g := range gs {
		fmt.Fprintf(tw, "    %s\t%s\t%s\t%s\n", g.what, g.got, g.want, g.verdict)
	}
	tw.Flush()
}

// goal is one line of the summary's goals.
type goal struct {
	what, got, want, verdict string
}

// newGoal returns the goal what, with want, not run.
func newGoal(what, want string) goal {
	return goal{what: what, got: "-", want: "goal " + want, verdict: "not run"}
}

// judge sets g's figure and verdict.
func (g *goal) judge(got string, met bool) {
	g.got = got
	g.verdict = map[bool]string{true: "met", false: "MISSED"}[met]
}

// ratioGoal is the goal what on metric(a) / metric(b), where want (such
// as ">= x1.25") is met when met(ratio) holds; not run unless both a and b
// ran.
func ratioGoal(res *results, what string, a, b cell, metric func(figures) float64, want string, met func(float64) bool) goal {
	g := newGoal(what, want)
	fa, okA := res.figs[a]
	fb, okB := res.figs[b]
	if okA && okB {
		r := metric(fa) / metric(fb)
		g.judge(fmt.Sprintf("x%.2f", r), met(r))
	}
	return g
}

// Metrics the goals compare.
var (
	jobsPerSec     = func(f figures) float64 { return f.jobsPerSec }
	requestsPerJob = func(f figures) float64 { return f.requestsPerJob }
	cpuPerJob      = func(f figures) float64 { return float64(f.cpuPerJob) }
	peakRSS        = func(f figures) float64 { return f.peakRSS }
)

// rttGoals measures res against the goals at SQS's round trip: at 20 ms
// and 10 ms, concurrency 10 and 100, busywork at least 1.25 times the Go
// CDK's jobs/s with at most 0.75 times its requests per job, less CPU per
// job and less peak memory; busywork's jobs/s at 20 ms at least 0.8 times
// its own on the loopback; on the loopback at concurrency 10, at least
// 1.25 times the Go CDK's jobs/s.
func rttGoals(res *results) []goal {
	var gs []goal
	for _, r := range []string{rtt20, rtt10} {
		for _, sc := range []string{noop10, noop100} {
			bw, cdk := cell{r, sc, busywork}, cell{r, sc, gocdk}
			at := r + " " + strings.TrimPrefix(sc, "noop/") + " "
			gs = append(gs,
				ratioGoal(res, at+"jobs/s busywork/gocdk", bw, cdk, jobsPerSec, ">= x1.25", func(x float64) bool { return x >= 1.25 }),
				ratioGoal(res, at+"requests/job busywork/gocdk", bw, cdk, requestsPerJob, "<= x0.75", func(x float64) bool { return x <= 0.75 }),
				ratioGoal(res, at+"CPU/job busywork/gocdk", bw, cdk, cpuPerJob, "< x1.00", func(x float64) bool { return x < 1 }),
				ratioGoal(res, at+"peak RSS busywork/gocdk", bw, cdk, peakRSS, "< x1.00", func(x float64) bool { return x < 1 }),
			)
		}
	}
	for _, sc := range []string{noop10, noop100} {
		gs = append(gs, ratioGoal(res, rtt20+" "+strings.TrimPrefix(sc, "noop/")+" jobs/s busywork 20ms/loopback",
			cell{rtt20, sc, busywork}, cell{loopback, sc, busywork}, jobsPerSec, ">= x0.80", func(x float64) bool { return x >= 0.8 }))
	}
	gs = append(gs, ratioGoal(res, loopback+" c=10 jobs/s busywork/gocdk",
		cell{loopback, noop10, busywork}, cell{loopback, noop10, gocdk}, jobsPerSec, ">= x1.25", func(x float64) bool { return x >= 1.25 }))
	return gs
}

// ceilingLines returns, for each round trip at which the ideal client
// ran, its best jobs/s (and with how many goroutines) and the share of it
// that each consumer's no-op drains reached.
func ceilingLines(res *results) []string {
	var lines []string
	for _, r := range res.rtts {
		var best figures
		bestAt := ""
		for c, f := range res.figs {
			if c.rtt == r && c.consumer == ceiling && f.jobsPerSec > best.jobsPerSec {
				best, bestAt = f, c.scenario
			}
		}
		if bestAt == "" {
			continue
		}
		line := fmt.Sprintf("%s: %.0f jobs/s (%s, %.4f req/job, %.1f cpu-us/job)",
			r, best.jobsPerSec, strings.TrimPrefix(bestAt, "ceiling/"), best.requestsPerJob, us(best.cpuPerJob))
		for _, name := range []string{busywork, gocdk} {
			for _, sc := range []string{noop10, noop100} {
				if f, ok := res.figs[cell{r, sc, name}]; ok {
					line += fmt.Sprintf("; %s %s %.0f%%", name, strings.TrimPrefix(sc, "noop/"), 100*f.jobsPerSec/best.jobsPerSec)
				}
			}
		}
		lines = append(lines, line)
	}
	if len(lines) == 0 {
		lines = append(lines, "not run")
	}
	return lines
}

// issue15Goals measures res against issue 15's goals, on the loopback:
// at concurrency 10 busywork at least 1.4 times the Go CDK's jobs/s, at
// most 0.205 requests per job, at most half its CPU per job, under 25 MB;
// no stall in any of busywork's drains; an idle start latency p99 under
// 50 ms; a slot efficiency of at least 0.9 with 100 ms jobs.
func issue15Goals(res *results) []goal {
	bw, cdk := cell{loopback, noop10, busywork}, cell{loopback, noop10, gocdk}
	gs := []goal{
		ratioGoal(res, "jobs/s busywork/gocdk, c=10", bw, cdk, jobsPerSec, ">= x1.40", func(x float64) bool { return x >= 1.4 }),
		newGoal("SQS requests per job, c=10", "<= 0.205"),
		ratioGoal(res, "CPU per job busywork/gocdk, c=10", bw, cdk, cpuPerJob, "<= x0.50", func(x float64) bool { return x <= 0.5 }),
		newGoal("peak RSS, c=10", "< 25 MB"),
		newGoal("stalls in busywork's drains", "none"),
		newGoal("idle start latency p99", "< 50 ms"),
		newGoal("slot efficiency, 100 ms jobs, c=10", ">= 0.90"),
	}
	if f, ok := res.figs[bw]; ok {
		gs[1].judge(fmt.Sprintf("%.4f", f.requestsPerJob), f.requestsPerJob <= 0.205)
		gs[3].judge(fmt.Sprintf("%.1f MB", f.peakRSS), f.peakRSS < 25)
	}
	var ran, stalled []string
	for c, f := range res.figs {
		if c.consumer == busywork {
			ran = append(ran, c.rtt+"/"+c.scenario)
			if f.stalled {
				stalled = append(stalled, c.rtt+"/"+c.scenario)
			}
		}
	}
	switch {
	case len(stalled) > 0:
		slices.Sort(stalled)
		gs[4].judge(strings.Join(stalled, " "), false)
	case len(ran) > 0:
		gs[4].judge("none", true)
	}
	if f, ok := res.figs[cell{loopback, idle10, busywork}]; ok {
		gs[5].judge(ms(f.p99)+" ms", f.p99 < 50*time.Millisecond)
	}
	if f, ok := res.figs[cell{loopback, slow10, busywork}]; ok {
		gs[6].judge(fmt.Sprintf("%.2f", f.slotEfficiency), f.slotEfficiency >= 0.9)
	}
	return gs
}

// ms formats d in milliseconds.
func ms(d time.Duration) string {
	return fmt.Sprintf("%.1f", float64(d)/float64(time.Millisecond))
}
