package busywork

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/busywork/busywork/consumer"
	"github.com/busywork/busywork/ddb"
	"github.com/busywork/busywork/groups"
	"github.com/busywork/busywork/internal/testenv"
	"github.com/busywork/busywork/jobs"
)

// run runs app's command args and returns its exit status and output.
func run(app App, args ...string) (code int, stdout, stderr string) {
	var out, errs bytes.Buffer
	code = app.Run(args, &out, &errs)
	return code, out.String(), errs.String()
}

func TestBatch_StatusShowsAGroupsProgressAndRepairEnqueuesAStalledFollowUpOnce(t *testing.T) {
	testenv.Require(t)
	client, db := testenv.SQS(t), testenv.DynamoDB(t)
	table := testenv.NewTable(t, db)
	t.Setenv("BUSYWORK_TABLE", table)
	urls := map[string]string{}
	for _, v := range []string{"BUSYWORK_QUEUE", "BUSYWORK_CRITICAL_QUEUE", "BUSYWORK_BULK_QUEUE"} {
		url, _ := testenv.NewQueue(t, client, testenv.QueueOptions{})
		urls[v] = url
		t.Setenv(v, url[strings.LastIndexByte(url, '/')+1:])
	}
	app := App{Name: "svc", Register: func(*consumer.Mux, *Env) error { return nil }}

	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"batch"}, ExitUsage, "missing subcommand"},
		{[]string{"batch", "stats", "g"}, ExitUsage, `unknown subcommand "stats"`},
		{[]string{"batch", "status"}, ExitUsage, "missing argument GROUP_ID"},
		{[]string{"batch", "status", "a b"}, ExitUsage, "group_id"},
		{[]string{"batch", "repair", "g", "h"}, ExitUsage, `unexpected argument "h"`},
		{[]string{"batch", "status", "no-such-group"}, ExitFail, "no group no-such-group in table " + table},
	} {
		if code, _, stderr := run(app, tt.args...); code != tt.code || !strings.Contains(stderr, tt.want) {
			t.Errorf("%s: exit %d, stderr %q; want %d saying %q", strings.Join(tt.args, " "), code, stderr, tt.code, tt.want)
		}
	}

	// A group of two whose child 2 failed for good.
	ctx := context.Background()
	store := ddb.New(db, table)
	id := testenv.UniqueName(t, "g-", jobs.MaxGroupIDBytes)
	ping := &ddb.FollowUpJob{Type: jobs.TypePing, Fields: []byte(`{"message":"all done"}`)}
	if _, err := store.CreateBatch(ctx, id, 2, ping, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := store.MarkChildDone(ctx, id, 1); err != nil {
		t.Fatal(err)
	}
	if err := store.MarkChildFailed(ctx, id, 2, "render: \x1b[31mbroken"); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := run(app, "batch", "status", id)
	for _, want := range []string{"children   1 of 2 done\n", "complete   no\n", "follow-up  ping: enqueued no, ran no\n",
		"  child 2: render: \\x1b[31mbroken\n", "action     1 children failed for good.", "`svc dlq replay --lane LANE`"} {
		if code != ExitOK || !strings.Contains(out, want) {
			t.Errorf("batch status of a group with a failed child: exit %d, lacks %q:\n%s%s", code, want, out, stderr)
		}
	}
	if code, out, _ := run(app, "batch", "repair", id); code != ExitOK || !strings.Contains(out, "1 children failed for good; a repair cannot run them again") {
		t.Errorf("batch repair of a group with a failed child: exit %d:\n%s", code, out)
	}

	// Child 2 is replayed and done; the follow-up then failed for good.
	if _, err := store.MarkChildDone(ctx, id, 2); err != nil {
		t.Fatal(err)
	}
	if err := store.MarkBatchStalled(ctx, id, ddb.FollowUp, "ping: the log is full"); err != nil {
		t.Fatal(err)
	}
	code, out, _ = run(app, "batch", "status", "--json", id)
	var st struct {
		Done, Total int
		Complete    bool
		Stalled     struct {
			FollowUpFailed bool `json:"follow_up_failed"`
			Reason         string
		}
		Action string
	}
	if err := json.Unmarshal([]byte(out), &st); code != ExitOK || err != nil || st.Done != 2 || !st.Complete || !st.Stalled.FollowUpFailed ||
		st.Stalled.Reason != "ping: the log is full" || !strings.Contains(st.Action, "`svc batch repair "+id+"`") {
		t.Fatalf("batch status --json of a stalled group: exit %d, %+v (%v):\n%s", code, st, err, out)
	}

	for range 2 { // twice: the follow-up runs once whatever is enqueued
		code, out, stderr = run(app, "batch", "repair", id)
		if code != ExitOK || !strings.Contains(out, "enqueued its follow-up (ping job "+groups.FollowUpID(id)+", lane default)") {
			t.Fatalf("batch repair of a stalled group: exit %d:\n%s%s", code, out, stderr)
		}
	}
	msgs := testenv.ReceiveAll(ctx, t, client, urls["BUSYWORK_QUEUE"], 2, 10*time.Second)
	for _, m := range msgs {
		if testenv.Attr(m, jobs.AttrJobID) != groups.FollowUpID(id) || testenv.Attr(m, jobs.AttrGroupID) != id ||
			testenv.Attr(m, jobs.AttrJobType) != jobs.TypePing || !strings.Contains(*m.Body, `"message":"all done"`) {
			t.Errorf("the repair enqueued %s with attributes %v, want the group's follow-up", *m.Body, m.MessageAttributes)
		}
	}
	if _, out, _ := run(app, "batch", "status", id); !strings.Contains(out, "follow-up  ping: enqueued 20") {
		t.Errorf("batch status after the repair does not show the follow-up enqueued:\n%s", out)
	}
}
