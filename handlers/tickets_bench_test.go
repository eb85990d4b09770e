package handlers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/busywork/busywork/awsclient"
	"github.com/busywork/busywork/consumer"
	"github.com/busywork/busywork/ddb"
	"github.com/busywork/busywork/demo"
	"github.com/busywork/busywork/groups"
	"github.com/busywork/busywork/handlers"
	"github.com/busywork/busywork/internal/testenv"
	"github.com/busywork/busywork/internal/webapp"
	"github.com/busywork/busywork/producer"
)

// benchOrderTickets is the size of the order BenchmarkTicketOrder places.
const benchOrderTickets = demo.MaxTickets

// BenchmarkTicketOrder measures ticket orders end to end on the emulators,
// through the real web app on a loopback server (its producer configured
// as `busywork web` configures it) and a consumer.Consumer with the
// handlers registered by handlers.Register:
//
//   - post/tickets=N: POST /orders of N tickets, one request after another
//     on a queue no worker serves; ns/op is the mean latency, p50-ms and
//     p99-ms its quantiles. It must not grow with N.
//   - order/concurrency=C: one 1000-ticket order, from POST /orders to the
//     last of its emails stored by the SES emulator (s-to-last-email), and
//     the DynamoDB and SQS requests per ticket that the web app's and the
//     worker's clients made from the POST until the order was dispatched
//     and its queue empty (every attempt counted, retries included; the
//     goal is at most 3 and 0.35).
//
// The parent prints a table of the figures and of the requests by
// operation.
func BenchmarkTicketOrder(b *testing.B) {
	testenv.Require(b)
	w := newBenchWorld(b)
	var rows benchRows
	b.Run("post", func(b *testing.B) {
		queue, _ := testenv.NewQueue(b, w.sqs, testenv.QueueOptions{NoDLQ: true})
		srv := w.webApp(b, w.webSender(queue))
		for _, n := range []int{1, benchOrderTickets} {
			b.Run(fmt.Sprintf("tickets=%d", n), func(b *testing.B) {
				rows.record(benchPosts(b, srv, w.signIn(b, recipient(b)), n))
			})
		}
	})
	b.Run("order", func(b *testing.B) {
		for _, c := range []int{10, 100} {
			b.Run(fmt.Sprintf("concurrency=%d", c), func(b *testing.B) {
				rows.record(w.benchOrders(b, c))
			})
		}
	})
	rows.print(os.Stdout)
}

// benchWorld is what every part of BenchmarkTicketOrder shares: clients
// whose requests are counted, and a table.
type benchWorld struct {
	sqsCount, ddbCount *testenv.Requests
	sqs                *sqs.Client // counted
	ddb                *dynamodb.Client
	webSQS             *sqs.Client // counted, made as `busywork web` makes its clients
	webDDB             *dynamodb.Client
	table              string
	plainSQS           *sqs.Client // not counted: the benchmark's own checks
	plainStore         *ddb.Store
}

func newBenchWorld(b *testing.B) *benchWorld {
	w := &benchWorld{sqsCount: testenv.NewRequests(), ddbCount: testenv.NewRequests()}
	w.sqs = testenv.SQS(b, func(o *sqs.Options) { o.APIOptions = append(o.APIOptions, w.sqsCount.Add) })
	w.ddb = testenv.DynamoDB(b, func(o *dynamodb.Options) { o.APIOptions = append(o.APIOptions, w.ddbCount.Add) })
	web := awsclient.Interactive(testenv.AWSConfig(b))
	w.webSQS = sqs.NewFromConfig(web, func(o *sqs.Options) { o.APIOptions = append(o.APIOptions, w.sqsCount.Add) })
	w.webDDB = awsclient.NewDynamoDB(web, func(o *dynamodb.Options) { o.APIOptions = append(o.APIOptions, w.ddbCount.Add) })
	w.plainSQS = testenv.SQS(b)
	plainDDB := testenv.DynamoDB(b)
	w.table = testenv.NewTable(b, plainDDB)
	w.plainStore = ddb.New(plainDDB, w.table)
	return w
}

// webSender is the producer `busywork web` would make for queue, on the
// counted client.
func (w *benchWorld) webSender(queue string) *producer.Producer {
	return producer.New(w.webSQS, queue, producer.WithBatching(producer.SuggestedBatchWindow))
}

// workerSender is the follow-up producer `busywork worker` would make for
// queue, on the counted client.
func (w *benchWorld) workerSender(queue string) *producer.Producer {
	return producer.New(w.sqs, queue, producer.WithTimeout(30*time.Second))
}

// webApp serves the web app on a loopback server until the benchmark
// ends, enqueuing through sender, with counted clients. Its clients share
// one address and a user may post many orders, so the login and order
// throttles are out of their way.
func (w *benchWorld) webApp(b *testing.B, sender webapp.Sender) *httptest.Server {
	srv := httptest.NewServer(webapp.New(webapp.Config{
		Sender:     sender,
		Store:      ddb.New(w.webDDB, w.table),
		Logger:     discardLogger(),
		LoginBurst: math.MaxInt32,
		OrderBurst: math.MaxInt32,
	}))
	b.Cleanup(srv.Close)
	return srv
}

// signIn starts a session for to on the uncounted client and returns its
// cookie: orders need a signed-in user.
func (w *benchWorld) signIn(b *testing.B, to string) *http.Cookie {
	id, err := w.plainStore.CreateSession(b.Context(), to, time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	return &http.Cookie{Name: webapp.SessionCookie, Value: id}
}

// serve runs a worker with the handlers of handlers.Register on queues
// until the benchmark ends, sending follow-up jobs through sender and mail
// through mail. It returns once the worker polls, so that its start's
// requests are not counted.
func (w *benchWorld) serve(b *testing.B, sender groups.Sender, mail handlers.MagicLinkMailer, queues ...consumer.QueueConfig) {
	polls := w.sqsCount.Snapshot()["ReceiveMessage"]
	mux := consumer.NewMux()
	store := ddb.New(w.ddb, w.table)
	g := groups.New(store, sender, groups.Options{Logger: discardLogger()})
	mux.Use(g.Middleware())
	handlers.Register(mux, handlers.Deps{
		Logger:    discardLogger(),
		Store:     store,
		Mail:      mail,
		From:      "tickets@example.com",
		BaseURL:   "http://127.0.0.1:8080",
		Groups:    g,
		TicketKey: []byte("bench key"),
	})
	cons, err := consumer.New(w.sqs, mux, consumer.Config{
		Queues: queues,
		Logger: discardLogger(), // the per-job log line is still made
	})
	if err != nil {
		b.Fatal(err)
	}
	runConsumer(b, cons)
	deadline := time.Now().Add(30 * time.Second)
	for w.sqsCount.Snapshot()["ReceiveMessage"] == polls {
		if time.Now().After(deadline) {
			b.Fatal("the worker did not poll within 30 s")
		}
		time.Sleep(10 * time.Millisecond) // the worker's first receive cannot be awaited otherwise
	}
}

// benchOrders places b.N orders of benchOrderTickets tickets, one at a
// time, with a worker of concurrency c.
func (w *benchWorld) benchOrders(b *testing.B, c int) benchRow {
	queue, _ := testenv.NewQueue(b, w.plainSQS, testenv.QueueOptions{})
	srv := w.webApp(b, w.webSender(queue))
	w.serve(b, w.workerSender(queue), testenv.SESv2(b), consumer.QueueConfig{URL: queue, Concurrency: c})
	var (
		wall           time.Duration
		sqsOps, ddbOps = map[string]int{}, map[string]int{}
	)
	b.ResetTimer()
	for range b.N {
		to := recipient(b)
		session := w.signIn(b, to)
		since := time.Now()
		sqs0, ddb0 := w.sqsCount.Snapshot(), w.ddbCount.Snapshot()
		start := time.Now()
		id, status := postOrder(b, srv, session, benchOrderTickets)
		if status != http.StatusAccepted {
			b.Fatalf("POST /orders: %d, want 202", status)
		}
		awaitAttachments(b, since, to, benchOrderTickets, 5*time.Minute)
		wall += time.Since(start)
		b.StopTimer()
		w.awaitSettled(b, queue, id, time.Minute)
		addDiff(sqsOps, w.sqsCount.Snapshot(), sqs0)
		addDiff(ddbOps, w.ddbCount.Snapshot(), ddb0)
		b.StartTimer()
	}
	tickets := float64(b.N * benchOrderTickets)
	r := benchRow{
		name:       b.Name(),
		wall:       wall / time.Duration(b.N),
		ddbPerTick: float64(sum(ddbOps)) / tickets,
		sqsPerTick: float64(sum(sqsOps)) / tickets,
		ddbOps:     perTicket(ddbOps, tickets),
		sqsOps:     perTicket(sqsOps, tickets),
	}
	b.ReportMetric(r.wall.Seconds(), "s-to-last-email")
	b.ReportMetric(r.ddbPerTick, "ddb-req/ticket")
	b.ReportMetric(r.sqsPerTick, "sqs-req/ticket")
	return r
}

// awaitAttachments waits until the mail stored since since for to carries
// n attachments in all.
func awaitAttachments(b *testing.B, since time.Time, to string, n int, timeout time.Duration) {
	deadline := time.Now().Add(timeout)
	for {
		got := 0
		for _, m := range mailsTo(b, since, to) {
			got += len(m.Attachments)
		}
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("after %s: %d of %d tickets mailed to %s", timeout, got, n, to)
		}
		time.Sleep(50 * time.Millisecond) // the SES emulator's store cannot be awaited otherwise
	}
}

// awaitSettled waits until order id is dispatched and queue holds no
// message, visible or in flight: then its jobs made all their requests.
func (w *benchWorld) awaitSettled(b *testing.B, queue, id string, timeout time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	for {
		batch, err := w.plainStore.GetBatch(ctx, id)
		if err == nil && batch.Dispatched() {
			out, err := w.plainSQS.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
				QueueUrl: aws.String(queue),
				AttributeNames: []types.QueueAttributeName{
					types.QueueAttributeNameApproximateNumberOfMessages,
					types.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
				},
			})
			if err == nil && out.Attributes[string(types.QueueAttributeNameApproximateNumberOfMessages)] == "0" &&
				out.Attributes[string(types.QueueAttributeNameApproximateNumberOfMessagesNotVisible)] == "0" {
				return
			}
		}
		select {
		case <-ctx.Done():
			b.Fatalf("order %s not dispatched with its queue empty within %s", id, timeout)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// benchPosts posts b.N orders of n tickets to srv as the user of session,
// one after another, and reports the latency's quantiles.
func benchPosts(b *testing.B, srv *httptest.Server, session *http.Cookie, n int) benchRow {
	latencies := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		t0 := time.Now()
		if _, status := postOrder(b, srv, session, n); status != http.StatusAccepted {
			b.Fatalf("POST /orders: %d, want 202", status)
		}
		latencies = append(latencies, time.Since(t0))
	}
	b.StopTimer()
	slices.Sort(latencies)
	r := benchRow{name: b.Name(), posts: b.N, p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99)}
	b.ReportMetric(float64(r.p50)/float64(time.Millisecond), "p50-ms")
	b.ReportMetric(float64(r.p99)/float64(time.Millisecond), "p99-ms")
	return r
}

// benchClient posts to the web app; it keeps its connection.
var benchClient = &http.Client{Transport: &http.Transport{Proxy: nil}}

// postOrder posts a JSON order of n tickets as the user of session and
// returns the order's id and the status.
func postOrder(b *testing.B, srv *httptest.Server, session *http.Cookie, n int) (string, int) {
	body := fmt.Sprintf(`{"event":"Benchmark Live","tickets":%d}`, n)
	req, err := http.NewRequestWithContext(b.Context(), http.MethodPost, srv.URL+"/orders", strings.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.AddCookie(session)
	resp, err := benchClient.Do(req)
	if err != nil {
		b.Fatalf("POST /orders: %v", err)
	}
	defer resp.Body.Close()
	var answer struct {
		OrderID string `json:"order_id"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&answer); err != nil {
		b.Fatalf("POST /orders: %d, body: %v", resp.StatusCode, err)
	}
	return answer.OrderID, resp.StatusCode
}

// quantile returns the q-quantile (0 < q <= 1) of the sorted ds.
func quantile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	return ds[min(len(ds)-1, int(float64(len(ds))*q))]
}

// addDiff adds after's counts less before's to into.
func addDiff(into, after, before map[string]int) {
	for op, n := range after {
		if d := n - before[op]; d != 0 {
			into[op] += d
		}
	}
}

func sum(ops map[string]int) int {
	total := 0
	for _, n := range ops {
		total += n
	}
	return total
}

func perTicket(ops map[string]int, tickets float64) map[string]float64 {
	out := make(map[string]float64, len(ops))
	for op, n := range ops {
		out[op] = float64(n) / tickets
	}
	return out
}

// benchRow is one line of BenchmarkTicketOrder's table.
type benchRow struct {
	name string
	// posts: latency of POST /orders
	posts    int
	p50, p99 time.Duration
	// orders: wall time and requests per ticket, also by operation
	wall                   time.Duration
	ddbPerTick, sqsPerTick float64
	ddbOps, sqsOps         map[string]float64
}

// benchRows are the table's lines in the order the benchmarks ran.
type benchRows []benchRow

// record keeps r, replacing the row of an earlier round of the same
// benchmark (the testing package runs each with a growing b.N).
func (rows *benchRows) record(r benchRow) {
	for i := range *rows {
		if (*rows)[i].name == r.name {
			(*rows)[i] = r
			return
		}
	}
	*rows = append(*rows, r)
}

func (rows benchRows) print(out io.Writer) {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "benchmark\tPOST p50\tPOST p99\tto last email\tDynamoDB req/ticket\tSQS req/ticket")
	for _, r := range rows {
		if r.posts > 0 {
			fmt.Fprintf(tw, "%s\t%s\t%s\t\t\t\n", r.name, r.p50.Round(10*time.Microsecond), r.p99.Round(10*time.Microsecond))
			continue
		}
		fmt.Fprintf(tw, "%s\t\t\t%s\t%.3f (goal <= 3)\t%.3f (goal <= 0.35)\n", r.name, r.wall.Round(time.Millisecond), r.ddbPerTick, r.sqsPerTick)
	}
	_ = tw.Flush()
	for _, r := range rows {
		if r.posts == 0 {
			fmt.Fprintf(out, "%s per ticket: DynamoDB %s; SQS %s\n", r.name, byOp(r.ddbOps), byOp(r.sqsOps))
		}
	}
}

// byOp lists ops' figures, largest first.
func byOp(ops map[string]float64) string {
	names := slices.SortedFunc(maps.Keys(ops), func(a, b string) int {
		if ops[a] != ops[b] {
			if ops[a] > ops[b] {
				return -1
			}
			return 1
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = n + " " + strconv.FormatFloat(ops[n], 'f', 4, 64)
	}
	return strings.Join(parts, ", ")
}

// discardLogger keeps every log line's cost and drops the line.
func discardLogger() *slog.Logger { return slog.New(slog.NewJSONHandler(io.Discard, nil)) }
