package producer_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/busywork/busywork/internal/testenv"
	"github.com/busywork/busywork/jobs"
	"github.com/busywork/busywork/producer"
)

func TestParseRoutes(t *testing.T) {
	lanes := producer.Lanes()
	got, err := producer.ParseRoutes(" ping=bulk, welcome_email = critical ,", lanes)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["ping"] != "bulk" || got["welcome_email"] != "critical" {
		t.Errorf("ParseRoutes = %v", got)
	}
	if got, err := producer.ParseRoutes("", lanes); err != nil || len(got) != 0 {
		t.Errorf("ParseRoutes(\"\") = %v, %v; want an empty table", got, err)
	}
	for text, want := range map[string]string{
		"ping=urgent":          `unknown lane "urgent" (lanes: critical, default, bulk)`,
		"ping":                 `route "ping": want type=lane`,
		"=bulk":                `route "=bulk": want type=lane`,
		"ping=bulk,ping=bulk ": `job type "ping" routed twice`,
	} {
		if _, err := producer.ParseRoutes(text, lanes); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseRoutes(%q) error %v, want one containing %q", text, err, want)
		}
	}
}

func TestRoutes_MergeOverridesAndDefaults(t *testing.T) {
	routes := routes()
	merged := routes.Merge(producer.Routes{"welcome_email": producer.LaneDefault, "ping": producer.LaneBulk})
	for typ, want := range map[string]string{
		"welcome_email": producer.LaneDefault,
		"ping":          producer.LaneBulk,
		"order":         producer.LaneBulk,
		"ticket":        producer.LaneBulk,
		"receipt":       producer.LaneDefault,
		"not_a_type":    producer.LaneDefault,
	} {
		if got := merged.Lane(typ); got != want {
			t.Errorf("Lane(%q) = %q, want %q", typ, got, want)
		}
	}
	if routes.Lane("welcome_email") != producer.LaneCritical {
		t.Error("Merge changed the table it was called on")
	}
}

func TestNewRouter_RefusesARouteToALaneWithoutQueue(t *testing.T) {
	p := producer.New(testenv.SQS(t), "http://127.0.0.1:1/000000000000/q")
	_, err := producer.NewRouter(map[string]*producer.Producer{producer.LaneDefault: p}, routes())
	if err == nil || !strings.Contains(err.Error(), `no queue for lane "`) {
		t.Errorf("NewRouter error %v, want one naming the lane without a queue", err)
	}
	_, err = producer.NewRouter(map[string]*producer.Producer{producer.LaneBulk: p}, nil)
	if err == nil || !strings.Contains(err.Error(), `"default"`) {
		t.Errorf("NewRouter without the default lane: error %v", err)
	}
}

// newLanes creates one queue per lane and returns them with a Router over
// them that routes by routes.
func newLanes(t *testing.T, client *sqs.Client, routes producer.Routes) (map[string]string, *producer.Router) {
	t.Helper()
	urls := map[string]string{}
	producers := map[string]*producer.Producer{}
	for _, lane := range producer.Lanes() {
		urls[lane], _ = testenv.NewQueue(t, client, testenv.QueueOptions{NoDLQ: true})
		producers[lane] = producer.New(client, urls[lane])
	}
	r, err := producer.NewRouter(producers, routes)
	if err != nil {
		t.Fatal(err)
	}
	return urls, r
}

func TestRouter_SendsEachJobToItsLanesQueue(t *testing.T) {
	client := testenv.SQS(t)
	urls, r := newLanes(t, client, routes().Merge(producer.Routes{"ping": producer.LaneBulk}))

	if _, err := r.Send(t.Context(), welcome{UserID: "ada"}); err != nil {
		t.Fatal(err)
	}
	batch := []jobs.Job{
		jobs.Ping{Message: "bulk 1"},
		receipt{OrderID: "order-1"},
		jobs.Ping{Message: "bulk 2"},
		welcome{UserID: "bob"},
	}
	results, err := r.SendBatch(t.Context(), batch)
	if err != nil {
		t.Fatal(err)
	}

	wantTypes := map[string][]string{
		producer.LaneCritical: {"welcome_email", "welcome_email"},
		producer.LaneDefault:  {"receipt"},
		producer.LaneBulk:     {"ping", "ping"},
	}
	ids := map[string]string{} // job id → lane it arrived on
	for lane, want := range wantTypes {
		msgs := testenv.ReceiveAll(t.Context(), t, client, urls[lane], len(want), 5*time.Second)
		var got []string
		for _, m := range msgs {
			got = append(got, testenv.Attr(m, jobs.AttrJobType))
			ids[testenv.Attr(m, jobs.AttrJobID)] = lane
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("lane %s received %v, want %v", lane, got, want)
		}
		out, err := client.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(urls[lane]), WaitTimeSeconds: 1})
		if err != nil || len(out.Messages) != 0 {
			t.Errorf("lane %s: %d more messages (%v), want none", lane, len(out.Messages), err)
		}
	}
	for i, res := range results {
		if want := r.Lane(batch[i].Type()); ids[res.JobID] != want {
			t.Errorf("result %d (%s) has job id %q, which arrived on lane %q, want %q", i, batch[i].Type(), res.JobID, ids[res.JobID], want)
		}
	}
}

func TestRouter_SendBatchRefusesOneJobIDForJobsOfSeveralLanes(t *testing.T) {
	client := testenv.SQS(t)
	_, r := newLanes(t, client, routes())
	results, err := r.SendBatch(t.Context(), []jobs.Job{welcome{UserID: "ada"}, jobs.Ping{}}, producer.JobID("one-id"))
	if !errors.Is(err, producer.ErrInvalidJob) {
		t.Fatalf("SendBatch error %v, want ErrInvalidJob", err)
	}
	for i, res := range results {
		if res.Err == nil || res.JobID != "" {
			t.Errorf("result %d = %+v, want refused before any call", i, res)
		}
	}
}

// routes is a routing table as an application's: welcome emails on the
// critical lane, an order and its tickets on the bulk lane.
func routes() producer.Routes {
	return producer.Routes{
		welcome{}.Type(): producer.LaneCritical,
		"order":          producer.LaneBulk,
		ticket{}.Type():  producer.LaneBulk,
	}
}
