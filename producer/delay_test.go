package producer

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/busywork/busywork/jobs"
)

func TestSend_RefusesBadDelayBeforeAnyNetworkCall(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name string
		opts []SendOption
		want string // in the error, besides the job type
	}{
		{"negative", []SendOption{Delay(-time.Nanosecond)}, "-1ns is not between 0 and 30 days"},
		{"a second negative", []SendOption{Delay(-time.Second)}, "-1s is not between 0"},
		{"past the most", []SendOption{Delay(MaxDelay + time.Nanosecond)}, "is not between 0 and 30 days"},
		{"100 years", []SendOption{Delay(100 * 365 * 24 * time.Hour)}, "876000h0m0s is not between 0 and 30 days"},
		{"at the zero time", []SendOption{At(time.Time{})}, "zero time"},
		{"at past the most", []SendOption{At(now.Add(MaxDelay + time.Hour))}, "more than 30 days (720h0m0s) from now"},
		{"at in the year 2126", []SendOption{At(now.AddDate(100, 0, 0))}, "from now"},
		{"at long ago", []SendOption{At(now.Add(-MaxDelay - time.Hour))}, "more than 30 days (720h0m0s) ago"},
		{"delay and at", []SendOption{Delay(time.Hour), At(now.Add(time.Hour))}, "given together"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := &fakeDelayStore{}
			p := New(noNetwork(t), testQueue, WithDelayStore(store))
			id, err := p.Send(t.Context(), jobs.Ping{}, tt.opts...)
			if !errors.Is(err, ErrInvalidDelay) || !strings.Contains(err.Error(), "ping job") || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Send error = %v, want ErrInvalidDelay naming the ping job and %q", err, tt.want)
			}
			if id != "" || len(store.recorded) != 0 {
				t.Errorf("id %q, %d records; want nothing sent or recorded", id, len(store.recorded))
			}
			results, err := New(noNetwork(t), testQueue).SendBatch(t.Context(), []jobs.Job{jobs.Ping{}, jobs.Ping{}}, tt.opts...)
			if !errors.Is(err, ErrInvalidDelay) || !errors.Is(results[0].Err, ErrInvalidDelay) || !errors.Is(results[1].Err, ErrInvalidDelay) {
				t.Errorf("SendBatch = %+v, %v; want every job refused", results, err)
			}
		})
	}
}

func TestDue_IsWhenSendWouldMakeTheJobsDue(t *testing.T) {
	now := time.Date(2026, 12, 5, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		opts []SendOption
		want time.Time
	}{
		{nil, now},
		{[]SendOption{Delay(2 * time.Hour)}, now.Add(2 * time.Hour)},
		{[]SendOption{At(now.Add(24 * time.Hour))}, now.Add(24 * time.Hour)},
		{[]SendOption{At(now.Add(-time.Hour))}, now},
	}
	for _, tt := range tests {
		if got, err := Due(now, tt.opts...); err != nil || !got.Equal(tt.want) {
			t.Errorf("Due = %s, %v; want %s", got, err, tt.want)
		}
	}
	if _, err := Due(now, Delay(-time.Hour)); !errors.Is(err, ErrInvalidDelay) || err.Error() != "invalid delay: -1h0m0s is not between 0 and 30 days (720h0m0s)" {
		t.Errorf("Due of a negative delay: %v", err)
	}
}

func TestSend_DelayedJobCarriesItsDueTimeAndHopsAtMost15Minutes(t *testing.T) {
	for _, d := range []time.Duration{time.Second, 10 * time.Minute, MaxSQSDelay, 2 * time.Hour, 7 * 24 * time.Hour, MaxDelay} {
		f := &fakeSQS{t: t}
		before := time.Now()
		if _, err := New(f, testQueue).Send(t.Context(), jobs.Ping{}, Delay(d)); err != nil {
			t.Fatalf("Delay(%v): %v", d, err)
		}
		in := f.sent[0]
		due, err := time.Parse(time.RFC3339Nano, aws.ToString(in.MessageAttributes[jobs.AttrDueAt].StringValue))
		if err != nil || due.Location() != time.UTC || due.Before(before.Add(d)) || due.After(time.Now().Add(d)) {
			t.Errorf("Delay(%v): due_at %v (%v), want an RFC 3339 UTC time %v after the send", d, due, err, d)
		}
		if want := int32(min(d, MaxSQSDelay) / time.Second); in.DelaySeconds != want {
			t.Errorf("Delay(%v): DelaySeconds %d, want %d", d, in.DelaySeconds, want)
		}
	}
}

func TestSend_MaxHopShortensTheFirstHop(t *testing.T) {
	f := &fakeSQS{t: t}
	p := New(f, testQueue, WithMaxHop(2*time.Second))
	for _, d := range []time.Duration{time.Second, 10 * time.Second} {
		if _, err := p.Send(t.Context(), jobs.Ping{}, Delay(d)); err != nil {
			t.Fatal(err)
		}
	}
	if f.sent[0].DelaySeconds != 1 || f.sent[1].DelaySeconds != 2 {
		t.Errorf("DelaySeconds %d and %d, want 1 and the 2 s hop", f.sent[0].DelaySeconds, f.sent[1].DelaySeconds)
	}
	for _, hop := range []time.Duration{0, -time.Second, time.Hour} {
		if got := New(f, testQueue, WithMaxHop(hop)).Options().MaxHop; got != MaxSQSDelay {
			t.Errorf("WithMaxHop(%v) gives %v, want MaxSQSDelay", hop, got)
		}
	}
}

func TestSend_AtSendsUntilThatTimeAndAPastTimeNow(t *testing.T) {
	f := &fakeSQS{t: t}
	at := time.Now().Add(3 * time.Hour).Truncate(time.Second)
	if _, err := New(f, testQueue).Send(t.Context(), jobs.Ping{}, At(at)); err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(f.sent[0].MessageAttributes[jobs.AttrDueAt].StringValue); got != at.UTC().Format(time.RFC3339Nano) || f.sent[0].DelaySeconds != 900 {
		t.Errorf("At(%s): due_at %q, DelaySeconds %d; want that time and a first hop of 900", at, got, f.sent[0].DelaySeconds)
	}

	store := &fakeDelayStore{}
	f = &fakeSQS{t: t}
	if _, err := New(f, testQueue, WithDelayStore(store)).Send(t.Context(), jobs.Ping{}, At(time.Now().Add(-time.Hour))); err != nil {
		t.Fatal(err)
	}
	if _, delayed := f.sent[0].MessageAttributes[jobs.AttrDueAt]; delayed || f.sent[0].DelaySeconds != 0 || len(store.recorded) != 0 {
		t.Errorf("At an hour ago: attributes %v, DelaySeconds %d, %d records; want a job due now, not recorded",
			f.sent[0].MessageAttributes, f.sent[0].DelaySeconds, len(store.recorded))
	}
}

func TestSend_UndelayedJobHasNoDueTimeAndIsNotRecorded(t *testing.T) {
	store := &fakeDelayStore{}
	f := &fakeSQS{t: t}
	p := New(f, testQueue, WithDelayStore(store))
	for _, opts := range [][]SendOption{nil, {Delay(0)}} {
		if _, err := p.Send(t.Context(), jobs.Ping{}, opts...); err != nil {
			t.Fatal(err)
		}
	}
	for _, in := range f.sent {
		if _, ok := in.MessageAttributes[jobs.AttrDueAt]; ok {
			t.Errorf("an undelayed job carries due_at")
		}
	}
	if len(store.recorded) != 0 {
		t.Errorf("%d records of undelayed jobs, want none: they pay nothing", len(store.recorded))
	}
}

func TestSend_RecordsADelayedJobBeforeItsMessage(t *testing.T) {
	store := &fakeDelayStore{}
	f := &fakeSQS{t: t}
	f.single = func(context.Context, *sqs.SendMessageInput) (*sqs.SendMessageOutput, error) {
		if len(store.recordedIDs()) != 1 {
			t.Error("the message went out before the job was recorded")
		}
		return &sqs.SendMessageOutput{}, nil
	}
	p := New(f, testQueue, WithDelayStore(store))
	id, err := p.Send(t.Context(), jobs.Ping{}, Delay(2*time.Hour), JobID("remind-1"))
	if err != nil || id != "remind-1" {
		t.Fatalf("Send = %q, %v", id, err)
	}
	r := store.recorded[0]
	due, _ := time.Parse(time.RFC3339Nano, aws.ToString(f.sent[0].MessageAttributes[jobs.AttrDueAt].StringValue))
	if r.id != "remind-1" || r.typ != "ping" || !r.due.Equal(due) {
		t.Errorf("recorded %+v, want remind-1, ping, due %s as the message says", r, due)
	}
}

func TestSend_RefusedRecordSendsNothing(t *testing.T) {
	store := &fakeDelayStore{fail: map[string]error{"remind-1": errors.New("ddb: job cancelled")}}
	p := New(noNetwork(t), testQueue, WithDelayStore(store))
	id, err := p.Send(t.Context(), jobs.Ping{}, Delay(time.Hour), JobID("remind-1"))
	if err == nil || id != "" || !strings.Contains(err.Error(), "ping job remind-1 not sent") || !strings.Contains(err.Error(), "job cancelled") {
		t.Fatalf("Send = %q, %v; want no id and an error naming the job and the cause", id, err)
	}
}

func TestSendBatch_RecordsEachDelayedJobAndSendsOnlyTheRecorded(t *testing.T) {
	store := &fakeDelayStore{fail: map[string]error{"r-2": errors.New("ddb: throttled")}}
	f := &fakeSQS{t: t}
	p := New(f, testQueue, WithDelayStore(store))
	ids := []string{"r-1", "r-2", "r-3"}
	results, err := p.SendBatch(t.Context(), []jobs.Job{jobs.Ping{}, jobs.Ping{}, jobs.Ping{}}, Delay(time.Hour), JobIDs(ids...))
	var be *BatchError
	if !errors.As(err, &be) || be.Failed != 1 || results[1].Err == nil || results[0].Err != nil || results[2].Err != nil {
		t.Fatalf("SendBatch = %+v, %v; want only r-2 failed", results, err)
	}
	if got := store.recordedIDs(); len(got) != 2 {
		t.Errorf("recorded %v, want r-1 and r-3", got)
	}
	var sent []string
	var dues []string
	for _, e := range f.batches[0] {
		sent = append(sent, aws.ToString(e.MessageAttributes[jobs.AttrJobID].StringValue))
		dues = append(dues, aws.ToString(e.MessageAttributes[jobs.AttrDueAt].StringValue))
	}
	if fmt.Sprint(sent) != "[r-1 r-3]" || dues[0] != dues[1] || dues[0] == "" {
		t.Errorf("sent %v due %v, want r-1 and r-3 only, due at the same time", sent, dues)
	}
}

// fakeDelayStore is a DelayStore that records what it is given, failing
// the job ids in fail.
type fakeDelayStore struct {
	fail     map[string]error
	mu       sync.Mutex
	recorded []delayRecord
}

type delayRecord struct {
	id, typ string
	due     time.Time
}

func (s *fakeDelayStore) PutDelayedJob(_ context.Context, jobID, jobType string, due time.Time) error {
	if err := s.fail[jobID]; err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recorded = append(s.recorded, delayRecord{jobID, jobType, due})
	return nil
}

func (s *fakeDelayStore) recordedIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []string
	for _, r := range s.recorded {
		ids = append(ids, r.id)
	}
	return ids
}
