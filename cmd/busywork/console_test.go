package main_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/chromedp/chromedp"

	"github.com/busywork/busywork/ddb"
	"github.com/busywork/busywork/groups"
	"github.com/busywork/busywork/internal/testenv"
	"github.com/busywork/busywork/internal/testenv/chrome"
	"github.com/busywork/busywork/jobs"
	"github.com/busywork/busywork/producer"
)

// consoleWorld is `busywork console` on lanes of its own, with dead
// letters and groups to show, and a browser to look at it.
type consoleWorld struct {
	t       *testing.T
	client  *sqs.Client
	lanes   map[string]string // queue URLs by lane
	store   *ddb.Store
	url     string // the console's root, http://127.0.0.1:PORT
	browser context.Context
	console *testenv.Process
}

func newConsoleWorld(t *testing.T) *consoleWorld {
	t.Helper()
	testenv.Require(t)
	browser := chrome.New(t)
	db := testenv.DynamoDB(t)
	table := testenv.NewTable(t, db)
	w := &consoleWorld{t: t, client: testenv.SQS(t), lanes: newLanes(t, testenv.QueueOptions{}), store: ddb.New(db, table), browser: browser}
	env := append(laneEnv(w.lanes), "BUSYWORK_TABLE="+table, "BUSYWORK_CONSOLE_ADDR=127.0.0.1:0")
	w.console = startBusywork(t, env, "console", "--interval", "1s")
	addr := w.console.Await(t, "the console listener", func(l testenv.LogLine) bool { return l["msg"] == "console listening" })["addr"].(string)
	w.url = chrome.Local(t, "http://"+addr)
	return w
}

// deadLetter puts n letters of type typ in lane's DLQ as the consumer
// copies a failed job, each with its own job id prefix-i and the error
// errText with i in place of %d; errText "" leaves the error out, as the
// redrive policy does.
func (w *consoleWorld) deadLetter(lane, prefix, typ, body, errText string, n int) []string {
	w.t.Helper()
	var ids []string
	entries := make([]types.SendMessageBatchRequestEntry, n)
	for i := range entries {
		id := fmt.Sprintf("%s-%d", prefix, i)
		ids = append(ids, id)
		attrs := map[string]types.MessageAttributeValue{jobs.AttrJobID: strAttr(id), jobs.AttrJobType: strAttr(typ)}
		if errText != "" {
			attrs[jobs.AttrError] = strAttr(strings.ReplaceAll(errText, "%d", fmt.Sprint(i)))
			attrs[jobs.AttrFailedAt] = strAttr(time.Now().UTC().Format(time.RFC3339))
		}
		entries[i] = types.SendMessageBatchRequestEntry{MessageBody: aws.String(body), MessageAttributes: attrs}
	}
	testenv.SendMessages(w.t.Context(), w.t, w.client, dlqOf(w.lanes[lane]), entries)
	return ids
}

// tab opens a tab on screen at the console's page.
func (w *consoleWorld) tab(screen chrome.Screen) *chrome.Tab {
	w.t.Helper()
	tab := chrome.NewTab(w.t, w.browser, screen)
	tab.Open(w.t, w.url+"/")
	return tab
}

// row returns the id of the dead-letter row of lane whose type is typ and
// whose error starts with errPrefix, once the page shows it.
func (w *consoleWorld) row(tab *chrome.Tab, lane, typ, errPrefix string) string {
	w.t.Helper()
	find := fmt.Sprintf(`([...document.querySelectorAll('#dead-%s tr.row')].find(r => r.dataset.type === %q && r.dataset.error.startsWith(%q)) || {}).id`,
		lane, typ, errPrefix)
	tab.Await(w.t, "the row of "+typ+" · "+errPrefix, find)
	id, err := chromedp.Run(tab, chromedp.Evaluate[string](find))
	if err != nil {
		w.t.Fatal(err)
	}
	return id
}

// confirm answers the console's confirmation dialog with OK, first
// setting its rate when rate is not "".
func (w *consoleWorld) confirm(tab *chrome.Tab, rate string) {
	w.t.Helper()
	tab.Await(w.t, "the confirmation", `document.getElementById('confirm').open`)
	if rate != "" {
		tab.Do(w.t, chromedp.SetValue(chromedp.ID("confirm-rate"), rate))
	}
	tab.Do(w.t, chromedp.Click(chromedp.ID("confirm-ok")))
}

// in returns w for subtest t: its failures are t's.
func (w *consoleWorld) in(t *testing.T) *consoleWorld {
	c := *w
	c.t = t
	return &c
}

// act presses button (replay or purge) on the row of lane's dead letters
// of type typ whose error starts with errPrefix, checks that the
// confirmation says each of says, answers it (setting rate unless it is
// ""), and returns what the task did once it is done.
func (w *consoleWorld) act(tab *chrome.Tab, lane, button, typ, errPrefix, rate string, says ...string) string {
	w.t.Helper()
	id := w.row(tab, lane, typ, errPrefix)
	tab.Do(w.t, chromedp.Click(chromedp.CSS("#"+id+" button."+button)))
	tab.Await(w.t, "the confirmation", `document.getElementById('confirm').open`)
	text := tab.Text(w.t, "#confirm-text")
	for _, want := range says {
		if !strings.Contains(text, want) {
			w.t.Errorf("the %s's confirmation says %q, want %q in it", button, text, want)
		}
	}
	w.confirm(tab, rate)
	task := "#task-" + lane
	tab.Await(w.t, "the "+button+"'s result", fmt.Sprintf(`document.querySelector(%q)?.dataset.state === 'done' && document.querySelector(%q).textContent.includes(%q)`,
		task, task, map[string]string{"replay": "Replay of", "purge": "Purge of"}[button]))
	return tab.Text(w.t, task+" .result")
}

// size returns how many messages queue url holds.
func (w *consoleWorld) size(url string) int { return testenv.QueueSize(w.t, w.client, url) }

func TestConsole_InChromium(t *testing.T) {
	w := newConsoleWorld(t)
	critical, bulk := w.lanes[producer.LaneCritical], w.lanes[producer.LaneBulk]

	// The critical lane's DLQ: three magic links SES refused (one cause,
	// each with its own request id), two pings that failed validation
	// (another), and one ping the redrive policy moved (no error).
	paused := w.deadLetter(producer.LaneCritical, "ml", "magic_link", `{"type":"magic_link","email":"ada@example.com"}`,
		"magic link: SES refused the email: SendingPausedException: Sending paused for this account. RequestID: 1f0e8f2a-7c56-4c2b-9a41-0d7a3f1b2c3%d", 3)
	w.deadLetter(producer.LaneCritical, "p", jobs.TypePing, `{"type":"ping","work_ms":70000}`, "invalid ping job: work_ms: 7000%d is not between 0 and 60000", 2)
	w.deadLetter(producer.LaneCritical, "r", jobs.TypePing, `{"type":"ping","message":"moved"}`, "", 1)
	for range 5 {
		if _, err := w.client.SendMessage(t.Context(), &sqs.SendMessageInput{QueueUrl: aws.String(bulk), MessageBody: aws.String(`{"type":"ping"}`)}); err != nil {
			t.Fatal(err)
		}
	}

	laptop := w.tab(chrome.Laptop)

	t.Run("the lanes and their numbers, refreshed live", func(t *testing.T) {
		w := w.in(t)
		laptop.Await(w.t, "5 waiting in bulk", `document.querySelector('#lane-bulk .n-visible')?.textContent === '5'`)
		laptop.Await(w.t, "6 dead letters in critical", `document.querySelector('#lane-critical .n-dead')?.textContent === '6'`)
		if got := laptop.Text(w.t, "#lane-bulk .names"); !strings.Contains(got, queueName(bulk)) || !strings.Contains(got, queueName(bulk)+"-dlq") {
			t.Errorf("the bulk lane names %q, want its queue and DLQ", got)
		}
		if got := laptop.Text(w.t, "#t-waiting"); got != "5" {
			t.Errorf("the waiting tile shows %q, want 5", got)
		}
		laptop.Await(w.t, "the chart's lines", `document.querySelectorAll('#chart svg polyline').length === 3`)
		// Two more arrive: the page shows them without a reload.
		for range 2 {
			if _, err := w.client.SendMessage(t.Context(), &sqs.SendMessageInput{QueueUrl: aws.String(bulk), MessageBody: aws.String(`{"type":"ping"}`)}); err != nil {
				t.Fatal(err)
			}
		}
		laptop.Await(w.t, "7 waiting in bulk, without a reload", `document.querySelector('#lane-bulk .n-visible')?.textContent === '7'`)
	})

	t.Run("the dead letters by type and error, with bodies", func(t *testing.T) {
		w := w.in(t)
		id := w.row(laptop, "critical", "magic_link", "magic link: SES refused")
		if n, e := laptop.Text(w.t, "#"+id+" td.n"), laptop.Text(w.t, "#"+id+" td.err"); n != "3" ||
			e != "magic link: SES refused the email: SendingPausedException: Sending paused for this account. RequestID: <id>" {
			t.Errorf("the SES row shows %s letters with error %q, want 3 with the request id as <id>", n, e)
		}
		pings := w.row(laptop, "critical", "ping", "invalid ping job")
		if n := laptop.Text(w.t, "#"+pings+" td.n"); n != "2" {
			t.Errorf("the invalid pings' row shows %s, want 2", n)
		}
		moved := w.row(laptop, "critical", "ping", "(no error attribute")
		if n := laptop.Text(w.t, "#"+moved+" td.n"); n != "1" {
			t.Errorf("the redriven ping's row shows %s, want 1", n)
		}
		laptop.Do(w.t, chromedp.Click(chromedp.CSS("#"+id+" button.bodies")))
		laptop.Await(w.t, "the bodies of the SES row", fmt.Sprintf(`(document.querySelector('#%s-letters')?.textContent || '').includes('ada@example.com')`, id))
	})

	t.Run("a cross-origin POST is refused and changes nothing", func(t *testing.T) {
		w := w.in(t)
		// Another site's page (another port of 127.0.0.1: same site,
		// another origin) asks the operator's browser to purge a row: a
		// fetch with the row's JSON as a plain-text body (a "simple"
		// request, sent without asking the console first), then a form,
		// whose answer the tab shows.
		const purge = `{"type":"ping","error":"invalid ping job: work_ms: <n> is not between <n> and <n>"}`
		evil := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, _ *http.Request) {
			fmt.Fprintf(rw, `<!doctype html><form id="f" method="post" enctype="text/plain" action="%[1]s/api/lanes/critical/purge">`+
				`<input name='{"type":"ping","error":"invalid ping job: work_ms: <n> is not between <n> and <n>","x":"' value='"}'></form>`+
				`<script>fetch(%[1]q + '/api/lanes/critical/purge', {method: 'POST', mode: 'no-cors', credentials: 'include',`+
				` headers: {'Content-Type': 'text/plain'}, body: %[2]q}).finally(() => document.getElementById('f').submit())</script>`, w.url, purge)
		}))
		defer evil.Close()
		tab := chrome.NewTab(t, w.browser, chrome.Laptop)
		tab.Open(t, evil.URL)
		tab.Await(w.t, "the console's refusal", fmt.Sprintf(`location.href.startsWith(%q) && document.body.innerText.includes('refused: the request came from another site')`, w.url))

		// And a request with a foreign Origin and no token, as a script
		// would send it.
		req, err := http.NewRequest(http.MethodPost, w.url+"/api/lanes/critical/purge", strings.NewReader(purge))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Origin", "http://evil.example")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("a POST from another origin: %s, want 403", resp.Status)
		}
		if n := w.size(dlqOf(critical)); n != 6 {
			t.Errorf("the critical DLQ holds %d after the refused POSTs, want all 6", n)
		}
	})

	t.Run("Replay moves the row back to the lane's queue", func(t *testing.T) {
		w := w.in(t)
		result := w.act(laptop, "critical", "replay", "magic_link", "magic link: SES refused", "100",
			"the 3 dead letters of type magic_link", queueName(critical))
		if !strings.Contains(result, "Moved 3 of 3 matching dead letters") {
			t.Errorf("the replay's result reads %q", result)
		}
		laptop.Await(w.t, "the rows without the SES row",
			`document.querySelectorAll('#dead-critical tr.row').length === 2 && ![...document.querySelectorAll('#dead-critical tr.row')].some(r => r.dataset.type === 'magic_link')`)
		laptop.Await(w.t, "the bodies shown before gone with the count they came from", `!document.querySelector('#dead-critical tr.detail')`)

		got := map[string]bool{}
		for _, m := range testenv.ReceiveAll(t.Context(), t, w.client, critical, 3, 10*time.Second) {
			got[testenv.Attr(m, jobs.AttrJobID)] = true
			if _, ok := m.MessageAttributes[jobs.AttrError]; ok {
				t.Errorf("replayed job %s kept its error attribute", testenv.Attr(m, jobs.AttrJobID))
			}
		}
		for _, id := range paused {
			if !got[id] {
				t.Errorf("job %s is not back in %s; got %v", id, queueName(critical), got)
			}
		}
		if n := w.size(dlqOf(critical)); n != 3 {
			t.Errorf("the critical DLQ holds %d after the replay, want the other rows' 3", n)
		}
	})

	t.Run("Purge empties its row and only its row", func(t *testing.T) {
		w := w.in(t)
		result := w.act(laptop, "critical", "purge", "ping", "invalid ping job", "", "the 2 dead letters of type ping", "for good")
		if !strings.Contains(result, "Deleted 2 of 2 matching dead letters") {
			t.Errorf("the purge's result reads %q", result)
		}
		laptop.Await(w.t, "only the redriven row left", `document.querySelectorAll('#dead-critical tr.row').length === 1`)
		left := testenv.ReceiveAll(t.Context(), t, w.client, dlqOf(critical), 1, 10*time.Second)
		if id := testenv.Attr(left[0], jobs.AttrJobID); id != "r-0" || w.size(dlqOf(critical)) != 1 {
			t.Errorf("the critical DLQ holds %s (%d messages), want only the redriven ping r-0", id, w.size(dlqOf(critical)))
		}
	})

	t.Run("a stalled order with its reason, what to do, and Repair", func(t *testing.T) {
		w := w.in(t)
		ctx := t.Context()
		order := testenv.UniqueName(t, "order-", jobs.MaxGroupIDBytes)
		if _, err := w.store.PutOrder(ctx, ddb.Order{ID: order, Email: "ada@example.com", Event: "Gophercon", Tickets: 2}, 0); err != nil {
			t.Fatal(err)
		}
		if _, err := w.store.CreateBatch(ctx, order, 2, &ddb.FollowUpJob{Type: "dispatch_tickets", Fields: []byte(`{"order_id":"` + order + `"}`)}, 0); err != nil {
			t.Fatal(err)
		}
		for n := 1; n <= 2; n++ {
			if _, err := w.store.MarkChildDone(ctx, order, n); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.store.MarkBatchStalled(ctx, order, 2, "groups: enqueue the follow-up: SQS refused the send"); err != nil {
			t.Fatal(err)
		}
		plain := testenv.UniqueName(t, "campaign-", jobs.MaxGroupIDBytes)
		if _, err := w.store.CreateBatch(ctx, plain, 3, &ddb.FollowUpJob{Type: jobs.TypePing, Fields: []byte(`{}`)}, 0); err != nil {
			t.Fatal(err)
		}
		if err := w.store.MarkChildFailed(ctx, plain, 2, "welcome: no user u-2"); err != nil {
			t.Fatal(err)
		}

		laptop.Do(w.t, chromedp.SetValue(chromedp.ID("group-id"), order), chromedp.Click(chromedp.CSS("#group-form button")))
		card := "#group-" + order
		laptop.Await(w.t, "the order's card", fmt.Sprintf(`!!document.querySelector(%q)`, card))
		text := laptop.Text(w.t, card)
		for _, want := range []string{"ticket order " + order, "Gophercon, 2 tickets", "2 of 2 children done", "Stalled since",
			"SQS refused the send", "busywork batch repair " + order} {
			if !strings.Contains(text, want) {
				t.Errorf("the order's card lacks %q:\n%s", want, text)
			}
		}
		laptop.Do(w.t, chromedp.Click(chromedp.CSS(card+" button.repair")))
		w.confirm(laptop, "")
		laptop.Await(w.t, "the repair's answer", fmt.Sprintf(`(document.querySelector(%q)?.textContent || '').includes('enqueued its follow-up')`, card+" .repaired"))
		msgs := testenv.ReceiveAll(ctx, t, w.client, w.lanes[producer.LaneDefault], 1, 10*time.Second)
		if id := testenv.Attr(msgs[0], jobs.AttrJobID); id != groups.FollowUpID(order) {
			t.Errorf("the repair enqueued job %s, want the order's dispatch %s", id, groups.FollowUpID(order))
		}

		// The scan finds both: the stalled order and the group with a
		// failed child.
		laptop.Do(w.t, chromedp.Click(chromedp.ID("scan-groups")))
		laptop.Await(w.t, "the scan's groups", fmt.Sprintf(`!!document.querySelector('#group-%s') && !!document.querySelector('#group-%s')`, order, plain))
		if text := laptop.Text(w.t, "#group-"+plain); !strings.Contains(text, "child 2: welcome: no user u-2") || !strings.Contains(text, "1 failed") {
			t.Errorf("the plain group's card lacks its failed child:\n%s", text)
		}
	})

	t.Run("it reads on a laptop and a phone", func(t *testing.T) {
		w := w.in(t)
		for _, tab := range []*chrome.Tab{laptop, w.tab(chrome.Phone)} {
			tab.Await(t, "the lanes", `document.querySelector('#lane-bulk .n-visible')?.textContent === '7'`)
			tab.Await(t, "the dead letters", `document.querySelectorAll('#dead-critical tr.row').length === 1`)
			tab.Screenshot(t, "console")
		}
	})

	t.Run("SIGTERM stops it", func(t *testing.T) {
		if err := w.console.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		// The binary is built with -race: a race found exits 66.
		if code := w.console.Wait(t, stopHang); code != 0 {
			t.Fatalf("console exited %d after SIGTERM, want 0; log:\n%s", code, w.console.Text())
		}
		w.console.Await(t, "the stop line", func(l testenv.LogLine) bool { return l["msg"] == "console stopped" })
	})
}

func TestConsole_ShowsTheFleetsRateFromTheWorkersMetrics(t *testing.T) {
	testenv.Require(t)
	lanes := newLanes(t, testenv.QueueOptions{})
	worker := startWorker(t, workerEnv(lanes))
	admin := worker.Await(t, "the admin listener", func(l testenv.LogLine) bool { return l["msg"] == "admin listening" })["addr"].(string)
	env := append(laneEnv(lanes), "BUSYWORK_TABLE="+testenv.NewTable(t, testenv.DynamoDB(t)), "BUSYWORK_CONSOLE_ADDR=127.0.0.1:0",
		"BUSYWORK_CONSOLE_METRICS=http://"+admin)
	console := startBusywork(t, env, "console", "--interval", "1s")
	url := "http://" + console.Await(t, "the console listener", func(l testenv.LogLine) bool { return l["msg"] == "console listening" })["addr"].(string)

	type fleet struct {
		Succeeded float64 `json:"succeeded"`
		Answered  int     `json:"answered"`
		Workers   int     `json:"workers"`
	}
	rate := func() *fleet {
		t.Helper()
		var v struct {
			Lanes []struct {
				Name  string `json:"name"`
				Fleet *fleet `json:"fleet"`
			} `json:"lanes"`
		}
		code, body := get(t, url+"/api/lanes")
		if err := json.Unmarshal([]byte(body), &v); code != http.StatusOK || err != nil {
			t.Fatalf("GET /api/lanes: %d, %v:\n%s", code, err, body)
		}
		for _, l := range v.Lanes {
			if l.Name == producer.LaneBulk {
				return l.Fleet
			}
		}
		t.Fatal("GET /api/lanes has no bulk lane")
		return nil
	}
	waitUntil := func(what string, ok func(*fleet) bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for !ok(rate()) {
			if time.Now().After(deadline) {
				t.Fatalf("the console did not show %s within 30s: %+v", what, rate())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	waitUntil("the worker answering", func(f *fleet) bool { return f != nil && f.Workers == 1 && f.Answered == 1 })
	sendPings(t, lanes[producer.LaneBulk], 30)
	waitUntil("the bulk lane's pings succeeding", func(f *fleet) bool { return f.Succeeded > 0 })
}
