package main_test

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
	"unicode"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/busywork/busywork/demo"
	"github.com/busywork/busywork/internal/testenv"
	"github.com/busywork/busywork/jobs"
)

func TestDLQ_BadArgumentsExitTwoNamingTheFlag(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"dlq"}, "busywork dlq: missing subcommand (stats, peek, replay or tasks)"},
		{[]string{"dlq", "show"}, `busywork dlq: unknown subcommand "show"`},
		{[]string{"dlq", "stats", "now"}, `busywork dlq: unexpected argument "now"`},
		{[]string{"dlq", "replay", "--max", "abc"}, `invalid value "abc" for flag -max`},
		{[]string{"dlq", "replay", "--max", "0"}, "--max 0: want at least 1"},
		{[]string{"dlq", "replay", "--rate", "0"}, "--rate 0: want a number of messages a second above 0"},
		{[]string{"dlq", "replay", "--rate", "-2"}, "--rate -2: want a number of messages a second above 0"},
		{[]string{"dlq", "replay", "--rate", "NaN"}, "--rate NaN: want a number"},
		{[]string{"dlq", "replay", "--rate", "fast"}, `invalid value "fast" for flag -rate`},
		{[]string{"dlq", "replay", "--frobnicate"}, "flag provided but not defined: -frobnicate"},
		{[]string{"dlq", "replay", "--native", "--type", "ping"}, "--native moves the whole DLQ: it takes no --type"},
		{[]string{"dlq", "replay", "--native", "--rate", "2.5"}, "--rate 2.5: --native wants a whole number of messages a second from 1 to 500"},
		{[]string{"dlq", "replay", "--native", "--rate", "501"}, "--rate 501: --native wants a whole number"},
		{[]string{"dlq", "peek", "--max", "0"}, "--max 0: want at least 1"},
		{[]string{"dlq", "peek", "--max", "ten"}, `invalid value "ten" for flag -max`},
		{[]string{"dlq", "tasks", "--stop"}, "flag provided but not defined: -stop"},
		{[]string{"dlq", "stats", "--lane", "urgent"}, `busywork dlq: --lane: unknown lane "urgent" (lanes: critical, default, bulk)`},
		{[]string{"dlq", "peek", "--lane", "critical,bulk"}, "--lane critical,bulk: want one lane (critical, default, bulk)"},
		{[]string{"dlq", "replay", "--lane", "all"}, "--lane all: want one lane (critical, default, bulk)"},
		{[]string{"dlq", "tasks", "--lane", "all"}, "--lane all: want one lane"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			r := runBusywork(t, []string{"AWS_REGION=us-east-1"}, tt.args...)
			if r.code != 2 || !strings.Contains(r.stderr, tt.want) || r.stdout != "" {
				t.Fatalf("exit %d, stdout %q, stderr:\n%s\nwant exit 2 and stderr containing %q", r.code, r.stdout, r.stderr, tt.want)
			}
		})
	}
}

func TestDLQ_HelpSaysThatReadingAddsToReceiveCounts(t *testing.T) {
	for _, args := range [][]string{{"dlq", "--help"}, {"help", "dlq"}, {"dlq", "replay", "-h"}, {"dlq", "stats", "--help"}} {
		r := runBusywork(t, nil, args...)
		if r.code != 0 || !strings.Contains(r.stdout, "Usage: busywork dlq stats|peek|replay|tasks") ||
			!strings.Contains(r.stdout, "which adds one to its receive\ncount") {
			t.Errorf("%q: exit %d, stdout:\n%s", args, r.code, r.stdout)
		}
	}
}

// dlqWorld is a queue, its DLQ and the environment that points busywork at
// them.
type dlqWorld struct {
	client      *sqs.Client
	url, dlqURL string
	env         []string
}

func newDLQWorld(t *testing.T, opts testenv.QueueOptions) *dlqWorld {
	t.Helper()
	client := testenv.SQS(t)
	url, dlqURL := testenv.NewQueue(t, client, opts)
	return &dlqWorld{client: client, url: url, dlqURL: dlqURL, env: []string{"BUSYWORK_QUEUE_URL=" + url}}
}

// deadLetter puts n dead letters of type typ in the DLQ, as the consumer
// copies them: job ids prefix-0, prefix-1, ..., error errText.
func (w *dlqWorld) deadLetter(t *testing.T, prefix, typ string, n int, errText, body string) {
	t.Helper()
	entries := make([]types.SendMessageBatchRequestEntry, n)
	for i := range entries {
		entries[i] = types.SendMessageBatchRequestEntry{
			MessageBody: aws.String(body),
			MessageAttributes: map[string]types.MessageAttributeValue{
				jobs.AttrJobID: strAttr(prefix + "-" + strconv.Itoa(i)), jobs.AttrJobType: strAttr(typ),
				jobs.AttrError: strAttr(errText), jobs.AttrFailedAt: strAttr("2026-12-01T10:00:00Z"),
			},
		}
	}
	testenv.SendMessages(t.Context(), t, w.client, w.dlqURL, entries)
}

func strAttr(s string) types.MessageAttributeValue {
	return types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(s)}
}

// ids receives from queue url, one-second long polls at a time, until
// three polls in a row bring nothing, and returns the job ids seen with
// how many times each was seen.
func (w *dlqWorld) ids(t *testing.T, url string) map[string]int {
	t.Helper()
	seen := make(map[string]int)
	for empty := 0; empty < 3; {
		out, err := w.client.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(url), MaxNumberOfMessages: 10, WaitTimeSeconds: 1, MessageAttributeNames: []string{"All"},
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Messages) == 0 {
			empty++
		}
		for _, m := range out.Messages {
			seen[testenv.Attr(m, jobs.AttrJobID)]++
		}
	}
	return seen
}

func TestDLQ_StatsAndPeekPrintWhatIsThereAndLeaveIt(t *testing.T) {
	testenv.Require(t)
	w := newDLQWorld(t, testenv.QueueOptions{})
	w.deadLetter(t, "ml", demo.TypeMagicLink, 3, "ses: SendEmail: TooManyRequestsException: rate exceeded for ada@example.com", `{"type":"magic_link","email":"ada@example.com"}`)
	w.deadLetter(t, "p", jobs.TypePing, 2, "invalid ping job: work_ms: 70000 is not between 0 and 60000", `{"type":"ping","work_ms":70000}`)

	stats := runBusywork(t, w.env, "dlq", "stats")
	for _, want := range []string{
		`dead-letter queue +` + regexp.QuoteMeta(queueName(w.dlqURL)) + ` \(of ` + regexp.QuoteMeta(queueName(w.url)) + `\)`,
		`messages +5 received \(SQS counted 5 when the scan began\)`,
		`oldest +20\d\d-\d\d-\d\dT.*ago \(the queue keeps a message 4 days`,
		`(?m)^MESSAGES +TYPE\n3 +magic_link\n2 +ping$`,
		`(?m)^3 +ses: SendEmail: TooManyRequestsException: rate exceeded for <email>$`,
		`(?m)^2 +invalid ping job: work_ms: <n> is not between <n> and <n>$`,
	} {
		if stats.code != 0 || !regexp.MustCompile(want).MatchString(stats.stdout) {
			t.Errorf("dlq stats: exit %d, stdout lacks %s:\n%s\nstderr:\n%s", stats.code, want, stats.stdout, stats.stderr)
		}
	}

	table := runBusywork(t, w.env, "dlq", "peek", "--type", "ping")
	lines := strings.Split(strings.TrimSpace(table.stdout), "\n")
	if table.code != 0 || len(lines) != 3 || !regexp.MustCompile(`^JOB_ID +TYPE +RECEIVES +FAILED_AT +ERROR +BODY$`).MatchString(lines[0]) ||
		!regexp.MustCompile(`^p-[01] +ping +2 +2026-12-01T10:00:00Z +invalid ping job: work_ms: 70000 is not between 0 and 60000 +\{"type":"ping","work_ms":70000\}$`).MatchString(lines[1]) {
		t.Errorf("dlq peek --type ping: exit %d, stdout:\n%s\nstderr:\n%s", table.code, table.stdout, table.stderr)
	}

	js := runBusywork(t, w.env, "dlq", "peek", "--json", "--error", "RATE EXCEEDED", "--max", "2")
	var got []map[string]any
	for line := range strings.Lines(js.stdout) {
		var l map[string]any
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatalf("dlq peek --json: line %q: %v", line, err)
		}
		got = append(got, l)
	}
	if js.code != 0 || len(got) != 2 || got[0]["type"] != demo.TypeMagicLink || got[0]["body"] != `{"type":"magic_link","email":"ada@example.com"}` ||
		got[0]["receive_count"] != float64(3) || !strings.HasPrefix(got[0]["job_id"].(string), "ml-") || got[0]["failed_at"] != "2026-12-01T10:00:00Z" {
		t.Errorf("dlq peek --json --max 2: exit %d, lines %v\nstderr:\n%s", js.code, got, js.stderr)
	}

	if seen := w.ids(t, w.dlqURL); len(seen) != 5 {
		t.Errorf("the DLQ holds %v after stats and peek, want all 5 jobs", seen)
	}
}

func TestDLQReplay_DryRunChangesNothingThenOneTypeMovesAtTheRate(t *testing.T) {
	testenv.Require(t)
	w := newDLQWorld(t, testenv.QueueOptions{})
	w.deadLetter(t, "ml", demo.TypeMagicLink, 20, "ses: rate exceeded", `{"type":"magic_link","email":"ada@example.com"}`)
	w.deadLetter(t, "p", jobs.TypePing, 2, "boom", `{"type":"ping"}`)

	dry := runBusywork(t, w.env, "dlq", "replay", "--type", "magic_link", "--dry-run")
	if dry.code != 0 || !strings.Contains(dry.stdout, "dry run: would move 20 messages from "+queueName(w.dlqURL)+" to "+queueName(w.url)+"; 2 do not match. Nothing changed") ||
		!strings.Contains(dry.stderr, "replay: would move 20 (of about 22), 0 failed, 2 skipped\n") {
		t.Fatalf("dry run: exit %d, stdout:\n%s\nstderr:\n%s", dry.code, dry.stdout, dry.stderr)
	}
	if seen := w.ids(t, w.url); len(seen) != 0 {
		t.Fatalf("the dry run sent %v to the queue", seen)
	}

	r := runBusywork(t, w.env, "dlq", "replay", "--type", "magic_link", "--rate", "10")
	if r.code != 0 || !regexp.MustCompile(`moved 20 of 20 matching messages from \S+ to \S+ in [\d.]+m?s \([\d.]+ a second\); 0 failed; 2 did not match and stay\.\n\nMESSAGES +TYPE\n20 +magic_link\n`).MatchString(r.stdout) {
		t.Fatalf("replay: exit %d, stdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	// Not a terminal: plain progress lines on stderr, no bar.
	if !strings.Contains(r.stderr, "replay: moved 20 (of about 22), 0 failed, 2 skipped\n") || strings.Contains(r.stderr, "\r") {
		t.Errorf("stderr is not plain lines:\n%q", r.stderr)
	}
	if seen := w.ids(t, w.url); len(seen) != 20 {
		t.Errorf("the queue holds %d jobs, want the 20 magic links", len(seen))
	}
	if seen := w.ids(t, w.dlqURL); len(seen) != 2 || seen["p-0"] != 1 || seen["p-1"] != 1 {
		t.Errorf("the DLQ holds %v, want the 2 pings", seen)
	}
}

func TestDLQReplay_ExitsOneNamingTheMessagesThatFailedToMove(t *testing.T) {
	testenv.Require(t)
	// SQS refuses the big messages: the queue takes at most 1 KiB.
	w := newDLQWorld(t, testenv.QueueOptions{MaximumMessageSize: 1024})
	w.deadLetter(t, "small", jobs.TypePing, 3, "boom", `{"type":"ping"}`)
	w.deadLetter(t, "big", jobs.TypePing, 1, "boom", `{"type":"ping","message":"`+strings.Repeat("x", 2000)+`"}`)

	r := runBusywork(t, w.env, "dlq", "replay", "--rate", "100")
	if r.code != 1 || !strings.Contains(r.stdout, "moved 3 of 4 matching messages") ||
		!strings.Contains(r.stderr, "not moved, still in "+queueName(w.dlqURL)+": job big-0 (ping): ") ||
		!strings.Contains(r.stderr, "busywork dlq: 1 messages failed to move") {
		t.Fatalf("exit %d, stdout:\n%s\nstderr:\n%s\nwant exit 1 naming job big-0", r.code, r.stdout, r.stderr)
	}
	if seen := w.ids(t, w.dlqURL); len(seen) != 1 || seen["big-0"] != 1 {
		t.Errorf("the DLQ holds %v, want the big message", seen)
	}
}

func TestDLQReplay_KilledMidwayLosesNoMessage(t *testing.T) {
	testenv.Require(t)
	w := newDLQWorld(t, testenv.QueueOptions{})
	const n = 300
	w.deadLetter(t, "p", jobs.TypePing, n, "boom", `{"type":"ping"}`)

	replay := startBusywork(t, w.env, "dlq", "replay", "--rate", "50")
	// Kill it once about a fifth has moved: SIGKILL, nothing to clean up.
	for deadline := time.Now().Add(30 * time.Second); ; {
		out, err := w.client.GetQueueAttributes(t.Context(), &sqs.GetQueueAttributesInput{
			QueueUrl: aws.String(w.url), AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameApproximateNumberOfMessages},
		})
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := strconv.Atoi(out.Attributes[string(types.QueueAttributeNameApproximateNumberOfMessages)]); got >= n/5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("fewer than %d messages moved within 30s; replay's log:\n%s", n/5, replay.Text())
		}
		time.Sleep(50 * time.Millisecond) // polling SQS's count: no event to await
	}
	if err := replay.Cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if code := replay.Wait(t, stopHang); code != -1 {
		t.Fatalf("replay exited %d before it was killed; log:\n%s", code, replay.Text())
	}

	// The messages the replay held come back to the DLQ after their
	// visibility timeout; wait for every job to be somewhere.
	moved, left := map[string]int{}, map[string]int{}
	for deadline := time.Now().Add(90 * time.Second); len(union(moved, left)) < n && time.Now().Before(deadline); {
		for id, k := range w.ids(t, w.url) {
			moved[id] += k
		}
		for id, k := range w.ids(t, w.dlqURL) {
			left[id] += k
		}
	}
	all := union(moved, left)
	for i := range n {
		if id := fmt.Sprintf("p-%d", i); all[id] == 0 {
			t.Errorf("job %s is lost: in neither queue", id)
		}
	}
	if len(moved) < n/5 || len(left) == 0 {
		t.Errorf("%d jobs moved and %d left: want a replay killed part-way", len(moved), len(left))
	}
	both := 0
	for id := range moved {
		if left[id] > 0 {
			both++
		}
	}
	t.Logf("killed after %d of %d moved; %d in both queues (sent, not yet deleted)", len(moved), n, both)
}

func union(a, b map[string]int) map[string]int {
	u := make(map[string]int, len(a)+len(b))
	for id, k := range a {
		u[id] += k
	}
	for id, k := range b {
		u[id] += k
	}
	return u
}

func TestDLQ_NativeOnAnEndpointWithoutMoveTasksPointsToTheDefaultMode(t *testing.T) {
	testenv.Require(t)
	w := newDLQWorld(t, testenv.QueueOptions{})
	for _, args := range [][]string{{"dlq", "replay", "--native", "--rate", "20"}, {"dlq", "tasks"}, {"dlq", "tasks", "--cancel"}} {
		r := runBusywork(t, w.env, args...)
		if r.code != 1 || !strings.Contains(r.stderr, "this SQS endpoint has no message move tasks") ||
			!strings.Contains(r.stderr, "run 'busywork dlq replay' without --native, which moves the messages itself") {
			t.Errorf("%q: exit %d, stderr:\n%s\nwant exit 1 pointing to the default mode", args, r.code, r.stderr)
		}
	}
}

func TestDLQ_LaneNamesTheDLQAndAllCoversEveryLane(t *testing.T) {
	testenv.Require(t)
	def := newDLQWorld(t, testenv.QueueOptions{})
	critical := newDLQWorld(t, testenv.QueueOptions{})
	bulk := newDLQWorld(t, testenv.QueueOptions{})
	env := []string{"BUSYWORK_QUEUE_URL=" + def.url, "BUSYWORK_CRITICAL_QUEUE_URL=" + critical.url, "BUSYWORK_BULK_QUEUE_URL=" + bulk.url}
	critical.deadLetter(t, "ml", demo.TypeMagicLink, 2, "ses: rate exceeded", `{"type":"magic_link","email":"ada@example.com"}`)
	bulk.deadLetter(t, "gt", demo.TypeGenerateTicket, 3, "render: boom", `{"type":"generate_ticket"}`)

	stats := runBusywork(t, env, "dlq", "stats", "--lane", "all")
	for _, want := range []string{
		`(?m)^dead-letter queue +` + regexp.QuoteMeta(queueName(critical.dlqURL)) + ` .*\nmessages +2 received`,
		`(?m)^dead-letter queue +` + regexp.QuoteMeta(queueName(def.dlqURL)) + ` .*\nmessages +0 received`,
		`(?m)^dead-letter queue +` + regexp.QuoteMeta(queueName(bulk.dlqURL)) + ` .*\nmessages +3 received`,
	} {
		if stats.code != 0 || !regexp.MustCompile(want).MatchString(stats.stdout) {
			t.Errorf("dlq stats --lane all: exit %d, stdout lacks %s:\n%s\nstderr:\n%s", stats.code, want, stats.stdout, stats.stderr)
		}
	}

	js := runBusywork(t, env, "dlq", "peek", "--lane", "all", "--json")
	queues := map[string]int{}
	for line := range strings.Lines(js.stdout) {
		var l struct{ Queue string }
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatalf("line %q: %v", line, err)
		}
		queues[l.Queue]++
	}
	if js.code != 0 || len(queues) != 2 || queues[queueName(critical.dlqURL)] != 2 || queues[queueName(bulk.dlqURL)] != 3 {
		t.Errorf("dlq peek --lane all --json: exit %d, letters by queue %v\nstderr:\n%s", js.code, queues, js.stderr)
	}

	r := runBusywork(t, env, "dlq", "replay", "--lane", "bulk", "--rate", "100")
	if r.code != 0 || !strings.Contains(r.stdout, "moved 3 of 3 matching messages from "+queueName(bulk.dlqURL)+" to "+queueName(bulk.url)) {
		t.Fatalf("dlq replay --lane bulk: exit %d, stdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	if seen := bulk.ids(t, bulk.url); len(seen) != 3 {
		t.Errorf("the bulk queue holds %v, want the 3 tickets", seen)
	}
	if seen := critical.ids(t, critical.dlqURL); len(seen) != 2 {
		t.Errorf("the critical DLQ holds %v, want its 2 letters untouched", seen)
	}
}

func TestDLQPeekAndStats_PrintNoRawControlCharactersFromADeadLetter(t *testing.T) {
	testenv.Require(t)
	w := newDLQWorld(t, testenv.QueueOptions{})
	// Whoever can send to the queue writes the body and the attributes.
	// SQS refuses ESC and the other C0 controls but tab, LF and CR (as
	// fauxqs does), so the escape sequences come as the C1 CSI (U+009B,
	// which terminals that honour C1 controls run like ESC [): a
	// clear-screen, a colour, a carriage return that overwrites the line, a
	// DEL and a bidi override. ESC itself is tested on WriteTable.
	body := "{\"m\":\"\u009b2J\u009b31m\rfake\u202eevil\x7f\"}"
	errText := "boom\u009b1A\r\nforged line\u202e"
	w.deadLetter(t, "evil\u009b2J", "ping\u202e", 1, errText, body)

	inert := func(what, out string) {
		t.Helper()
		for i, r := range out {
			if r != '\n' && r != ' ' && !unicode.IsPrint(r) {
				t.Errorf("%s prints %U at byte %d:\n%q", what, r, i, out)
				return
			}
		}
	}
	table := runBusywork(t, w.env, "dlq", "peek")
	inert("dlq peek", table.stdout)
	if lines := strings.Split(strings.TrimSpace(table.stdout), "\n"); table.code != 0 || len(lines) != 2 ||
		!strings.Contains(lines[1], `{"m":"\u009b2J\u009b31m\rfake\u202eevil\x7f"}`) || !strings.Contains(lines[1], `evil\u009b2J-0`) ||
		!strings.Contains(lines[1], `boom\u009b1A\r\nforged line\u202e`) {
		t.Errorf("dlq peek: exit %d, stdout:\n%s\nwant one row with the controls escaped; stderr:\n%s", table.code, table.stdout, table.stderr)
	}

	js := runBusywork(t, w.env, "dlq", "peek", "--json")
	inert("dlq peek --json", js.stdout)
	var l struct {
		Body  string `json:"body"`
		Error string `json:"error"`
		JobID string `json:"job_id"`
		Type  string `json:"type"`
	}
	if err := json.Unmarshal([]byte(js.stdout), &l); err != nil || js.code != 0 || l.Body != body || l.Error != errText ||
		l.JobID != "evil\u009b2J-0" || l.Type != "ping\u202e" {
		t.Errorf("dlq peek --json: exit %d, %+v (%v), want the letter as sent:\n%q", js.code, l, err, js.stdout)
	}

	stats := runBusywork(t, w.env, "dlq", "stats")
	inert("dlq stats", stats.stdout)
	if stats.code != 0 || !strings.Contains(stats.stdout, `ping\u202e`) {
		t.Errorf("dlq stats: exit %d, stdout:\n%s", stats.code, stats.stdout)
	}
}
