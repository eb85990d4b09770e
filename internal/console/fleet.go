package console

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/busywork/busywork/consumer"
)

// jobsMetric is the counter the fleet's rate comes from:
// busywork_jobs_total{lane,type,outcome}.
const jobsMetric = "busywork_jobs_total"

// maxMetricsBytes bounds the /metrics answer read from one worker.
const maxMetricsBytes = 4 << 20

// fleetRate is a lane's jobs finished a second, summed over the workers
// that answered this sample and the one before.
type fleetRate struct {
	// Succeeded counts jobs that succeeded; Failed those retried,
	// dead-lettered, hung or whose lease was lost.
	Succeeded float64 `json:"succeeded"`
	Failed    float64 `json:"failed"`
	// Answered counts the workers whose metrics gave the rate; Workers
	// those configured.
	Answered int `json:"answered"`
	Workers  int `json:"workers"`
	// Error says why a worker did not answer, when one did not.
	Error string `json:"error,omitempty"`
}

// failedOutcomes are the outcomes a fleetRate counts as failed.
var failedOutcomes = map[string]bool{
	consumer.OutcomeRetried: true, consumer.OutcomeDeadLettered: true, consumer.OutcomeHung: true, consumer.OutcomeLeaseLost: true,
}

// fleet scrapes the workers' metrics.
type fleet struct {
	targets []string
	client  *http.Client
	prev    map[string]scrape // by target: the last answer
}

// scrape is one worker's counters at one time, summed by lane and
// whether the outcome failed.
type scrape struct {
	at     time.Time
	counts map[laneOutcome]float64
}

type laneOutcome struct {
	lane   string
	failed bool
}

// ParseMetricsURLs parses a comma-separated list of the workers' metrics
// URLs, as in "http://10.0.0.5:9090,http://10.0.0.6:9090": each http or
// https with a host; one without a path gets /metrics.
func ParseMetricsURLs(list string) ([]string, error) {
	var urls []string
	for t := range strings.SplitSeq(list, ",") {
		if t = strings.TrimSpace(t); t == "" {
			continue
		}
		u, err := url.Parse(t)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
			return nil, fmt.Errorf("%q: want http://HOST:PORT or https://HOST:PORT, with /metrics or another path", t)
		}
		if u.Path == "" || u.Path == "/" {
			u.Path = "/metrics"
		}
		urls = append(urls, u.String())
	}
	return urls, nil
}

func newFleet(targets []string, client *http.Client) (*fleet, error) {
	urls, err := ParseMetricsURLs(strings.Join(targets, ","))
	if err != nil {
		return nil, fmt.Errorf("console: metrics URL %w", err)
	}
	return &fleet{targets: urls, client: client, prev: map[string]scrape{}}, nil
}

// scrape reads every worker's metrics at once and returns each lane's
// rate since the last scrape; nil without targets.
func (f *fleet) scrape(ctx context.Context, now time.Time) map[string]*fleetRate {
	if len(f.targets) == 0 {
		return nil
	}
	answers := make([]scrape, len(f.targets))
	errs := make([]error, len(f.targets))
	var wg sync.WaitGroup
	for i, t := range f.targets {
		wg.Go(func() { answers[i], errs[i] = f.read(ctx, t, now) })
	}
	wg.Wait()

	rates := map[string]*fleetRate{}
	rate := func(lane string) *fleetRate {
		if rates[lane] == nil {
			rates[lane] = &fleetRate{Workers: len(f.targets)}
		}
		return rates[lane]
	}
	var lastErr string
	answered := 0
	for i, t := range f.targets {
		if errs[i] != nil {
			lastErr = errs[i].Error()
			delete(f.prev, t) // a gap: the next answer starts afresh
			continue
		}
		prev, ok := f.prev[t]
		f.prev[t] = answers[i]
		if !ok {
			continue
		}
		answered++
		secs := answers[i].at.Sub(prev.at).Seconds()
		for k, n := range answers[i].counts {
			d := n - prev.counts[k]
			if d < 0 { // the worker restarted: its counters began again
				d = n
			}
			r := rate(k.lane)
			if k.failed {
				r.Failed += d / secs
			} else {
				r.Succeeded += d / secs
			}
		}
	}
	for _, r := range rates {
		r.Answered, r.Error = answered, lastErr
	}
	rates[""] = &fleetRate{Workers: len(f.targets), Answered: answered, Error: lastErr} // for lanes no worker counted
	return rates
}

// read fetches one worker's metrics and sums its busywork_jobs_total by
// lane and failure.
func (f *fleet) read(ctx context.Context, target string, now time.Time) (scrape, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return scrape{}, err
	}
	req.Header.Set("Accept", string(expfmt.NewFormat(expfmt.TypeTextPlain)))
	resp, err := f.client.Do(req)
	if err != nil {
		return scrape{}, fmt.Errorf("metrics %s: %w", target, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return scrape{}, fmt.Errorf("metrics %s: %s", target, resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(io.LimitReader(resp.Body, maxMetricsBytes))
	if err != nil {
		return scrape{}, fmt.Errorf("metrics %s: %w", target, err)
	}
	s := scrape{at: now, counts: map[laneOutcome]float64{}}
	if fam := families[jobsMetric]; fam != nil {
		for _, m := range fam.GetMetric() {
			lane, outcome := label(m, "lane"), label(m, "outcome")
			if outcome == consumer.OutcomeSucceeded || failedOutcomes[outcome] {
				s.counts[laneOutcome{lane, failedOutcomes[outcome]}] += m.GetCounter().GetValue()
			}
		}
	}
	return s, nil
}

func label(m *dto.Metric, name string) string {
	for _, l := range m.GetLabel() {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}
