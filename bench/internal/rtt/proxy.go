// Package rtt puts SQS's round trip between BenchmarkDrain's children and
// fauxqs: a TCP proxy on the loopback interface that holds every byte a
// client sends for a fixed time before it forwards it to the emulator, as
// the network between a worker and an SQS region would.
//
// fauxqs answers a call in about 0.1 ms on the loopback; in AWS an SQS call
// takes about 20 ms in-region. A consumer that keeps few calls in flight
// drains fast on the loopback and slowly in AWS, so a drain measured
// without that round trip measures the wrong thing. The proxy adds it:
//
//	p, err := rtt.Start("http://127.0.0.1:9324", 20*time.Millisecond)
//	if err != nil { ... }
//	defer p.Close()
//	// AWS_ENDPOINT_URL_SQS=p.URL in the child's environment
//
// It works on bytes, not on HTTP: each chunk read from a client's
// connection is written to the emulator's once RTT has passed since it was
// read, in order; the answers come back at once. An HTTP/1.1 client sends
// its next request on a connection only once it has its answer, so each
// call takes RTT plus the emulator's own time, however many connections
// the client keeps open, and the emulator sees one connection per client
// connection (kept alive as the client keeps it). Working on bytes keeps
// the proxy's own CPU per call small (a read and a write each way, one
// timer; no parsing), which matters where the proxy shares the cores with
// the emulator and the consumer: a net/http reverse proxy parses, copies
// and re-sends every request and answer. BenchmarkProxyCost compares the
// two.
//
// A chunk is forwarded when Go's timer wakes the proxy, which on Linux can
// be up to about a millisecond after it was due; Stats says how late.
//
// The whole round trip is added on the way to the emulator: what the
// emulator does happens RTT after the client asked, and the client hears
// of it at once. So a long poll that is waiting when a message arrives
// answers without the half round trip a real answer takes on its way
// back. Opening a connection costs no round trip.
package rtt

import (
	"fmt"
	"io"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// Proxy is a running delay proxy in front of one emulator on the loopback
// interface. Its methods may be called from many goroutines.
type Proxy struct {
	// URL is the proxy's base URL, http://127.0.0.1:PORT: a client's
	// endpoint (its AWS_ENDPOINT_URL_SQS).
	URL string
	// RTT is how long each chunk a client sends is held.
	RTT time.Duration

	target string // the emulator's host:port, on the loopback
	ln     net.Listener
	wg     sync.WaitGroup // serve and every connection's goroutines

	mu     sync.Mutex
	conns  map[net.Conn]struct{} // open connections, both sides
	closed bool

	accepted, chunks, bytes, late atomic.Int64
	maxLate                       atomic.Int64
}

// Stats are what a proxy has forwarded since it started.
type Stats struct {
	// Conns counts the client connections accepted.
	Conns int64
	// Chunks counts the reads from clients forwarded to the emulator: one
	// or more per request.
	Chunks int64
	// Bytes counts the bytes forwarded to the emulator.
	Bytes int64
	// Late is the total time chunks were held past RTT (the timer's and
	// the scheduler's lateness); MaxLate the longest for one chunk.
	Late, MaxLate time.Duration
}

// Sub returns what was forwarded from earlier (an earlier Stats of the
// same proxy) to s; its MaxLate is s's, since the start.
func (s Stats) Sub(earlier Stats) Stats {
	return Stats{
		Conns:   s.Conns - earlier.Conns,
		Chunks:  s.Chunks - earlier.Chunks,
		Bytes:   s.Bytes - earlier.Bytes,
		Late:    s.Late - earlier.Late,
		MaxLate: s.MaxLate,
	}
}

// MeanLate returns the mean time a chunk was held past RTT.
func (s Stats) MeanLate() time.Duration {
	if s.Chunks == 0 {
		return 0
	}
	return s.Late / time.Duration(s.Chunks)
}

// Start starts a proxy on 127.0.0.1 in front of target, an emulator's base
// URL such as the value of AWS_ENDPOINT_URL_SQS, holding every chunk a
// client sends for rtt. It refuses a target whose host is not localhost or
// a loopback address: the proxy never reaches beyond this machine.
func Start(target string, rtt time.Duration) (*Proxy, error) {
	addr, err := loopbackAddr(target)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("rtt: listen: %w", err)
	}
	p := &Proxy{
		URL:    "http://" + ln.Addr().String(),
		RTT:    rtt,
		target: addr,
		ln:     ln,
		conns:  make(map[net.Conn]struct{}),
	}
	p.wg.Add(1)
	go p.serve()
	return p, nil
}

// loopbackAddr returns the host:port to dial for target, an http URL on
// localhost or a loopback address, with localhost as 127.0.0.1.
func loopbackAddr(target string) (string, error) {
	u, err := url.Parse(target)
	if err != nil || u.Scheme != "http" || u.Port() == "" {
		return "", fmt.Errorf("rtt: target %q: want http://HOST:PORT", target)
	}
	host := u.Hostname()
	if host == "localhost" {
		host = "127.0.0.1"
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return "", fmt.Errorf("rtt: target %q: not localhost or a loopback address: the proxy only fronts local emulators", target)
	}
	return net.JoinHostPort(host, u.Port()), nil
}

// Stats returns what the proxy has forwarded so far.
func (p *Proxy) Stats() Stats {
	return Stats{
		Conns:   p.accepted.Load(),
		Chunks:  p.chunks.Load(),
		Bytes:   p.bytes.Load(),
		Late:    time.Duration(p.late.Load()),
		MaxLate: time.Duration(p.maxLate.Load()),
	}
}

// Close stops the proxy: it stops accepting, closes every open connection
// (what is held is dropped) and returns once all its goroutines have
// ended.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	err := p.ln.Close()
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
	return err
}

// serve accepts client connections until the listener closes.
func (p *Proxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.accepted.Add(1)
		p.wg.Add(1)
		go p.relay(c)
	}
}

// track records c as open, or closes it and returns false once the proxy
// is closed.
func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		c.Close()
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

// release closes c and forgets it.
func (p *Proxy) release(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
	c.Close()
}

// relay connects client to the emulator: the client's bytes go through the
// delay line, the emulator's come back at once. When the emulator closes
// its side, or either side fails, both connections close; when the client
// closes its side, what is held is forwarded first.
func (p *Proxy) relay(client net.Conn) {
	defer p.wg.Done()
	if !p.track(client) {
		return
	}
	defer p.release(client)
	upstream, err := net.DialTimeout("tcp", p.target, 5*time.Second)
	if err != nil {
		return // the client sees its connection close
	}
	if !p.track(upstream) {
		return
	}
	defer p.release(upstream)
	back := make(chan struct{})
	go func() {
		defer close(back)
		io.Copy(client, upstream) // an error ends the connection as EOF does
		client.Close()            // ends the delay line's read
		upstream.Close()          // ends a write the delay line is in
	}()
	p.delayLine(client, upstream)
	if tc, ok := upstream.(*net.TCPConn); ok {
		tc.CloseWrite() // the client said all it will: so do we
	}
	<-back
}

// chunk is what one read from a client brought, due to be forwarded at due.
type chunk struct {
	buf *[]byte
	n   int
	due time.Time
}

// chunkSize is the buffer of one read: a DeleteMessageBatch of ten receipt
// handles is about 4 KB.
const chunkSize = 16 << 10

var buffers = sync.Pool{New: func() any { b := make([]byte, chunkSize); return &b }}

// delayLine reads from client and writes each chunk to upstream once RTT
// has passed since it was read, in order, until client's side ends (EOF or
// an error), and returns once every chunk read has been written or
// dropped (upstream failed).
func (p *Proxy) delayLine(client, upstream net.Conn) {
	held := make(chan chunk, 64)
	written := make(chan struct{})
	go func() {
		defer close(written)
		var failed bool
		for c := range held {
			if !failed {
				failed = p.forward(upstream, c) != nil
			}
			buffers.Put(c.buf)
		}
	}()
	for {
		buf := buffers.Get().(*[]byte)
		n, err := client.Read(*buf)
		if n > 0 {
			held <- chunk{buf: buf, n: n, due: time.Now().Add(p.RTT)}
		} else {
			buffers.Put(buf)
		}
		if err != nil {
			break
		}
	}
	close(held)
	<-written
}

// forward waits until c is due, writes it to upstream and counts it.
func (p *Proxy) forward(upstream net.Conn, c chunk) error {
	if wait := time.Until(c.due); wait > 0 {
		time.Sleep(wait)
	}
	late := int64(time.Since(c.due))
	p.chunks.Add(1)
	p.bytes.Add(int64(c.n))
	p.late.Add(late)
	for {
		m := p.maxLate.Load()
		if late <= m || p.maxLate.CompareAndSwap(m, late) {
			break
		}
	}
	_, err := upstream.Write((*c.buf)[:c.n])
	return err
}
