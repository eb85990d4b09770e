package handlers_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sesv2"

	"github.com/busywork/busywork/consumer"
	"github.com/busywork/busywork/handlers"
	"github.com/busywork/busywork/internal/testenv"
	"github.com/busywork/busywork/jobs"
	"github.com/busywork/busywork/producer"
)

// benchLogins is how many logins BenchmarkLoginBehindOrder times per order.
const benchLogins = 60

// benchLoginGap is the pause between two of its logins: they span about
// 1.2 s of the order's processing.
const benchLoginGap = 20 * time.Millisecond

// BenchmarkLoginBehindOrder measures what a person at the login page
// waits for while a 1000-ticket order is being processed: the time from
// POST /auth/magic-link to the login email in the SES emulator's store,
// over 60 logins, each by another user, sent one after another once the
// order's fan-out has enqueued its 1000 generate_ticket jobs. It runs the
// real web app and a consumer.Consumer with the handlers of
// handlers.Register, configured as `busywork web` and `busywork worker`
// are, on the emulators:
//
//   - lanes: three queues, routed by handlers.Routes (the login on
//     the critical lane, the tickets on the bulk lane), concurrency 10 each;
//   - one-queue: every job type routed to one queue of concurrency 10.
//
// A mail counts as stored when the SES emulator answered its SendEmail
// call. The parent prints p50 and p99 of both and their ratio; the goal
// is a p99 under 1 s with lanes.
func BenchmarkLoginBehindOrder(b *testing.B) {
	testenv.Require(b)
	w := newBenchWorld(b)
	rows := map[string][2]time.Duration{}
	for _, mode := range []string{"lanes", "one-queue"} {
		b.Run(mode, func(b *testing.B) {
			var latencies []time.Duration
			for range b.N {
				latencies = append(latencies, w.loginsBehindOrder(b, mode == "lanes")...)
			}
			slices.Sort(latencies)
			p50, p99 := quantile(latencies, 0.5), quantile(latencies, 0.99)
			b.ReportMetric(float64(p50)/float64(time.Millisecond), "p50-ms")
			b.ReportMetric(float64(p99)/float64(time.Millisecond), "p99-ms")
			rows[mode] = [2]time.Duration{p50, p99}
		})
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "login behind a 1000-ticket order\tp50\tp99")
	for _, mode := range []string{"lanes", "one-queue"} {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", mode, rows[mode][0].Round(time.Millisecond), rows[mode][1].Round(time.Millisecond))
	}
	if l, o := rows["lanes"], rows["one-queue"]; l[0] > 0 && l[1] > 0 {
		fmt.Fprintf(tw, "one-queue / lanes\t×%.1f\t×%.1f (goal: lanes p99 < 1s)\n", float64(o[0])/float64(l[0]), float64(o[1])/float64(l[1]))
	}
	_ = tw.Flush()
}

// loginsBehindOrder places one 1000-ticket order on a fresh worker, times
// benchLogins logins behind it, and returns their latencies once the
// order is dispatched.
func (w *benchWorld) loginsBehindOrder(b *testing.B, lanes bool) []time.Duration {
	b.StopTimer()
	mail := &mailClock{Client: testenv.SESv2(b), sent: map[string]time.Time{}}
	queues := map[string]string{}
	var configs []consumer.QueueConfig
	routes := handlers.Routes()
	if !lanes {
		routes = producer.Routes{} // every type on the default lane
	}
	for _, lane := range producer.Lanes() {
		if !lanes && lane != producer.LaneDefault {
			continue
		}
		queues[lane], _ = testenv.NewQueue(b, w.plainSQS, testenv.QueueOptions{})
		configs = append(configs, consumer.QueueConfig{URL: queues[lane], Name: lane, Concurrency: 10})
	}
	web, worker := w.routers(b, queues, routes)
	srv := w.webApp(b, web)
	fanout := &fanoutSignal{Router: worker, done: make(chan struct{})}
	w.serve(b, fanout, mail, configs...)

	users := make([]string, benchLogins)
	for i := range users {
		users[i] = recipient(b)
		if err := w.plainStore.PutUser(b.Context(), users[i], "Bench"); err != nil {
			b.Fatal(err)
		}
	}
	session := w.signIn(b, recipient(b))
	b.StartTimer()
	id, status := postOrder(b, srv, session, benchOrderTickets)
	if status != http.StatusAccepted {
		b.Fatalf("POST /orders: %d, want 202", status)
	}
	select {
	case <-fanout.done:
	case <-time.After(time.Minute):
		b.Fatalf("order %s not fanned out within a minute", id)
	}
	posted := make([]time.Time, len(users))
	for i, to := range users {
		posted[i] = time.Now()
		if status := postLogin(b, srv, to); status != http.StatusAccepted {
			b.Fatalf("POST /auth/magic-link: %d, want 202", status)
		}
		time.Sleep(benchLoginGap)
	}
	latencies := make([]time.Duration, len(users))
	for i, to := range users {
		latencies[i] = mail.await(b, to, time.Minute).Sub(posted[i])
	}
	b.StopTimer()
	w.awaitSettled(b, queues[routes.Lane("generate_ticket")], id, 2*time.Minute)
	return latencies
}

// routers returns the web app's and the worker's producers over queues
// (by lane), routing by routes.
func (w *benchWorld) routers(b *testing.B, queues map[string]string, routes producer.Routes) (web, worker *producer.Router) {
	webLanes, workerLanes := map[string]*producer.Producer{}, map[string]*producer.Producer{}
	for lane, url := range queues {
		webLanes[lane], workerLanes[lane] = w.webSender(url), w.workerSender(url)
	}
	web, err := producer.NewRouter(webLanes, routes)
	if err == nil {
		worker, err = producer.NewRouter(workerLanes, routes)
	}
	if err != nil {
		b.Fatal(err)
	}
	return web, worker
}

// fanoutSignal is the worker's producer, closing done once a SendBatch of
// an order's tickets has returned: then they are all enqueued.
type fanoutSignal struct {
	*producer.Router
	once sync.Once
	done chan struct{}
}

// SendBatch sends as the Router does.
func (f *fanoutSignal) SendBatch(ctx context.Context, js []jobs.Job, opts ...producer.SendOption) ([]producer.Result, error) {
	res, err := f.Router.SendBatch(ctx, js, opts...)
	if err == nil && len(js) == benchOrderTickets {
		f.once.Do(func() { close(f.done) })
	}
	return res, err
}

// postLogin asks the web app for a magic link for to and returns the
// status.
func postLogin(b *testing.B, srv *httptest.Server, to string) int {
	resp, err := benchClient.Post(srv.URL+"/auth/magic-link", "application/json", strings.NewReader(fmt.Sprintf(`{"email":%q}`, to)))
	if err != nil {
		b.Fatalf("POST /auth/magic-link: %v", err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// mailClock is the SES client of the handlers, noting when the SES
// emulator accepted (and so stored) the first mail to each address.
type mailClock struct {
	*sesv2.Client
	mu   sync.Mutex
	sent map[string]time.Time
}

// SendEmail sends as the client does and notes the time of success.
func (m *mailClock) SendEmail(ctx context.Context, in *sesv2.SendEmailInput, optFns ...func(*sesv2.Options)) (*sesv2.SendEmailOutput, error) {
	out, err := m.Client.SendEmail(ctx, in, optFns...)
	if err == nil {
		at := time.Now()
		m.mu.Lock()
		for _, to := range in.Destination.ToAddresses {
			if _, seen := m.sent[to]; !seen {
				m.sent[to] = at
			}
		}
		m.mu.Unlock()
	}
	return out, err
}

// await returns when the first mail to to was stored.
func (m *mailClock) await(b *testing.B, to string, timeout time.Duration) time.Time {
	deadline := time.Now().Add(timeout)
	for {
		m.mu.Lock()
		at, ok := m.sent[to]
		m.mu.Unlock()
		if ok {
			return at
		}
		if time.Now().After(deadline) {
			b.Fatalf("no mail to %s within %s", to, timeout)
		}
		time.Sleep(5 * time.Millisecond) // the times are noted, not lost: polling costs only the check
	}
}
