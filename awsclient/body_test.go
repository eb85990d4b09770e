package awsclient_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/busywork/busywork/awsclient"
)

// The race this test reproduces, step by step, without a timing guess:
//
//  1. The client writes a ReceiveMessage request; the write that completes
//     it returns only later (lateConn), as a write on a busy machine may.
//  2. The server reads the request and answers with the first part of a
//     response larger than net/http's 4 KiB read buffer.
//  3. Do returns with the response headers; the SDK closes its request-body
//     wrapper and reads the response body. Its read past the first part
//     lets the client's write return.
//  4. net/http, after the write, reads the request body once more. On the
//     SDK's closed wrapper that read fails, and net/http closes the
//     connection; with an in-memory body nothing fails.
//  5. Only once the client's transport has settled the write (reported the
//     request written, or closed the connection) does the server send the
//     rest of the response.
//
// Without InMemoryBodies the SDK gets "use of closed network
// connection" in the middle of the body, retries on a new connection and
// fails the same way every time.
func TestLoad_ReadsAResponseThatArrivesBeforeTheRequestWriteReturns(t *testing.T) {
	isolate(t)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	resp, bodies := receiveResponse(t, 10)
	head := len(resp) - 512 // the first part: headers and most of the body
	srv := newTwoPartServer(t, resp, head)

	cfg, err := awsclient.Load(ctx,
		config.WithRegion("us-east-1"),
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("test", "test", "")),
		// The tuned client Load would use, dialling late-writing connections.
		config.WithHTTPClient(awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
			tr.DialContext = srv.dial
		})),
	)
	if err != nil {
		t.Fatal(err)
	}
	client := sqs.NewFromConfig(cfg, func(o *sqs.Options) {
		o.BaseEndpoint = aws.String("http://" + srv.addr())
	})

	out, err := client.ReceiveMessage(httptrace.WithClientTrace(ctx, srv.trace()), &sqs.ReceiveMessageInput{
		QueueUrl:            aws.String("http://" + srv.addr() + "/000000000000/q"),
		MaxNumberOfMessages: 10,
	})
	dials, requests := srv.dials.Load(), srv.requests.Load()
	if err != nil || dials != 1 || requests != 1 {
		t.Fatalf("ReceiveMessage: %v after %d requests on %d connections; want the response on the first", err, requests, dials)
	}
	if len(out.Messages) != len(bodies) {
		t.Fatalf("received %d messages, want %d", len(out.Messages), len(bodies))
	}
	for i, m := range out.Messages {
		if aws.ToString(m.Body) != bodies[i] {
			t.Errorf("message %d: body %.20q…, want %.20q…", i, aws.ToString(m.Body), bodies[i])
		}
	}
}

// receiveResponse returns an HTTP response to ReceiveMessage carrying n
// messages of 1 KiB each, and their bodies.
func receiveResponse(t *testing.T, n int) ([]byte, []string) {
	t.Helper()
	type message struct {
		MessageId, ReceiptHandle, MD5OfBody, Body string
	}
	var msgs []message
	var bodies []string
	for i := range n {
		body := fmt.Sprintf("%d:%s", i, strings.Repeat("x", 1024))
		sum := md5.Sum([]byte(body))
		msgs = append(msgs, message{fmt.Sprint("m", i), fmt.Sprint("r", i), hex.EncodeToString(sum[:]), body})
		bodies = append(bodies, body)
	}
	payload, err := json.Marshal(struct{ Messages []message }{msgs})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.0\r\nX-Amzn-RequestId: test\r\nContent-Length: %d\r\n\r\n", len(payload))
	b.Write(payload)
	return b.Bytes(), bodies
}

// twoPartServer answers every request on 127.0.0.1 with resp, in two
// parts: resp[:head] at once, the rest once the client's side of the
// connection has settled its write (see lateConn). Its dial method dials
// it with late-writing connections.
type twoPartServer struct {
	ln       net.Listener
	resp     []byte
	head     int
	dials    atomic.Int64
	requests atomic.Int64

	mu      sync.Mutex
	clients map[string]*lateConn // by local address
	current *lateConn            // the connection of the request in flight
}

func newTwoPartServer(t *testing.T, resp []byte, head int) *twoPartServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &twoPartServer{ln: ln, resp: resp, head: head, clients: map[string]*lateConn{}}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return // the listener was closed
			}
			wg.Go(func() { s.serve(conn) })
		}
	})
	t.Cleanup(func() {
		ln.Close()
		s.mu.Lock()
		for _, c := range s.clients {
			c.Close()
		}
		s.mu.Unlock()
		wg.Wait()
	})
	return s
}

func (s *twoPartServer) addr() string { return s.ln.Addr().String() }

// serve answers the requests of one connection until the client closes it.
func (s *twoPartServer) serve(conn net.Conn) {
	defer conn.Close()
	br := bufio.NewReader(conn)
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		if _, err := io.Copy(io.Discard, req.Body); err != nil {
			return
		}
		s.requests.Add(1)
		s.mu.Lock()
		client := s.clients[conn.RemoteAddr().String()]
		s.mu.Unlock()
		if _, err := conn.Write(s.resp[:s.head]); err != nil {
			return
		}
		<-client.settled
		if _, err := conn.Write(s.resp[s.head:]); err != nil {
			return
		}
	}
}

// dial is the client transport's DialContext.
func (s *twoPartServer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	s.dials.Add(1)
	c := &lateConn{Conn: conn, head: s.head, readPastHead: make(chan struct{}), settled: make(chan struct{}), closed: make(chan struct{})}
	s.mu.Lock()
	s.clients[conn.LocalAddr().String()] = c
	s.mu.Unlock()
	return c, nil
}

// trace tells each connection when its transport reported the request
// written without an error.
func (s *twoPartServer) trace() *httptrace.ClientTrace {
	return &httptrace.ClientTrace{
		GotConn: func(info httptrace.GotConnInfo) {
			s.mu.Lock()
			s.current = info.Conn.(*lateConn)
			s.mu.Unlock()
		},
		WroteRequest: func(info httptrace.WroteRequestInfo) {
			s.mu.Lock()
			c := s.current
			s.mu.Unlock()
			if info.Err == nil {
				c.settle()
			}
		},
	}
}

// lateConn is the client's side of a connection whose writes finish late:
// the write that completes a request returns only once the client reads
// past the first head bytes of the response, that is once Do has returned
// the response and the SDK reads its body (or the connection is closed).
type lateConn struct {
	net.Conn
	head int

	mu           sync.Mutex
	request      []byte // what was written of the request so far
	received     int    // bytes read so far
	readPastHead chan struct{}
	released     sync.Once

	settled    chan struct{} // closed when the request was reported written or the connection closed
	settleOnce sync.Once
	closed     chan struct{}
	closeOnce  sync.Once
}

func (c *lateConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	c.mu.Lock()
	c.request = append(c.request, p[:n]...)
	done := wholeRequest(c.request)
	if done {
		c.request = nil
	}
	c.mu.Unlock()
	if done {
		select {
		case <-c.readPastHead:
		case <-c.closed:
		}
	}
	return n, err
}

func (c *lateConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	if c.received >= c.head {
		c.released.Do(func() { close(c.readPastHead) })
	}
	c.mu.Unlock()
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	c.received += n
	c.mu.Unlock()
	return n, err
}

// Close closes the connection, then lets a late write return and the
// server send the rest: a read cannot get it any more.
func (c *lateConn) Close() error {
	err := c.Conn.Close()
	c.closeOnce.Do(func() { close(c.closed) })
	c.settle()
	return err
}

func (c *lateConn) settle() {
	c.settleOnce.Do(func() { close(c.settled) })
}

// wholeRequest reports whether b holds a whole HTTP request, body included.
func wholeRequest(b []byte) bool {
	req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(b)))
	if err != nil {
		return false
	}
	_, err = io.Copy(io.Discard, req.Body)
	return err == nil
}
