package webapp

import (
	"fmt"
	"net/http"
	"testing"
	"time"
)

// fakeClock is a settable clock for the throttle; the tests using it run
// on one goroutine.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time      { return c.t }
func (c *fakeClock) add(d time.Duration) { c.t = c.t.Add(d) }

func TestThrottle_BurstThenOneAnIntervalAndTheWaitUntilTheNext(t *testing.T) {
	clk := &fakeClock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	th := newThrottle(10*time.Second, 2, 10, clk.now)

	for i := range 2 {
		if d := th.wait("a"); d != 0 {
			t.Fatalf("request %d of the burst: wait %s, want 0", i+1, d)
		}
	}
	if d := th.wait("a"); d != 10*time.Second {
		t.Fatalf("over the burst: wait %s, want 10s", d)
	}
	clk.add(4 * time.Second)
	if d := th.wait("a"); d != 6*time.Second {
		t.Fatalf("4 s later: wait %s, want 6s (refused requests take nothing)", d)
	}
	clk.add(6 * time.Second)
	if d := th.wait("a"); d != 0 {
		t.Fatalf("one interval after the burst: wait %s, want 0", d)
	}
	if d := th.wait("a"); d == 0 {
		t.Fatal("a second request in the same interval was let through")
	}
	if d := th.wait("b"); d != 0 {
		t.Fatalf("another client: wait %s, want 0", d)
	}
}

func TestThrottle_ARequestGivenBackDoesNotCount(t *testing.T) {
	clk := &fakeClock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	th := newThrottle(time.Minute, 2, 10, clk.now)

	if d, giveBack := th.take("a"); d != 0 || giveBack == nil {
		t.Fatalf("first request: wait %s, want 0 and a way to give it back", d)
	}
	d, giveBack := th.take("a")
	if d != 0 {
		t.Fatalf("second request of the burst: wait %s, want 0", d)
	}
	clk.add(100 * time.Millisecond) // the send that found a repeat
	giveBack()                      // it does not count
	if d := th.wait("a"); d != 0 {
		t.Fatalf("after one was given back: wait %s, want 0 (a burst of 2, one counted)", d)
	}
	if d, giveBack := th.take("a"); d == 0 || giveBack != nil {
		t.Fatalf("over the burst: wait %s and a give-back %v, want a wait and nothing to give back", d, giveBack != nil)
	}
}

func TestThrottle_RemembersAtMostMaxClientsForgettingTheLeastRecentlySeen(t *testing.T) {
	clk := &fakeClock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)}
	th := newThrottle(time.Hour, 1, 3, clk.now)
	for _, c := range []string{"a", "b", "c"} {
		if d := th.wait(c); d != 0 {
			t.Fatalf("client %s: wait %s, want 0", c, d)
		}
	}
	th.wait("a") // refused, and now the most recently seen
	th.wait("d") // forgets b, the least recently seen
	if n := th.recent.Len(); n != 3 || len(th.clients) != 3 {
		t.Fatalf("%d clients in the list and %d in the map, want 3", n, len(th.clients))
	}
	if d := th.wait("a"); d == 0 {
		t.Error("client a was forgotten, though seen after b and c")
	}
	if d := th.wait("b"); d != 0 {
		t.Errorf("client b: wait %s, want 0 (forgotten, so a new client)", d)
	}
	for i := range 30 {
		th.wait(fmt.Sprintf("client-%d", i))
	}
	if n := th.recent.Len(); n != 3 || len(th.clients) != 3 {
		t.Fatalf("after more clients: %d in the list and %d in the map, want 3", n, len(th.clients))
	}
}

func TestClientOf_IsThePeerUnlessForwardedForIsTrusted(t *testing.T) {
	tests := []struct {
		name    string
		remote  string
		forward []string
		trust   bool
		want    string
	}{
		{"IPv4 peer", "203.0.113.7:5555", nil, false, "203.0.113.7"},
		{"forwarded-for ignored by default", "203.0.113.7:5555", []string{"198.51.100.9"}, false, "203.0.113.7"},
		{"trusted: the last entry", "10.0.0.2:80", []string{"1.2.3.4, 198.51.100.9"}, true, "198.51.100.9"},
		{"trusted: the last header line", "10.0.0.2:80", []string{"1.2.3.4", "192.0.2.1, 198.51.100.10"}, true, "198.51.100.10"},
		{"trusted but not an address", "10.0.0.2:80", []string{"1.2.3.4, unknown"}, true, "10.0.0.2"},
		{"trusted but absent", "10.0.0.2:80", nil, true, "10.0.0.2"},
		{"IPv6 peer: its /64", "[2001:db8:1:2:3:4:5:6]:443", nil, false, "2001:db8:1:2::/64"},
		{"IPv4-mapped IPv6", "[::ffff:203.0.113.7]:1", nil, false, "203.0.113.7"},
	}
	for _, tt := range tests {
		r := &http.Request{RemoteAddr: tt.remote, Header: http.Header{}}
		for _, v := range tt.forward {
			r.Header.Add("X-Forwarded-For", v)
		}
		if got := clientOf(r, tt.trust); got != tt.want {
			t.Errorf("%s: clientOf = %q, want %q", tt.name, got, tt.want)
		}
	}
}
