package awsclient

import (
	"bytes"
	"fmt"
	"io"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// InMemoryBodies returns an HTTP client that sends each request through
// next with the body replaced by an in-memory copy of it. Load uses it; a
// program that loads its AWS configuration itself gets the same fix with
//
//	cfg, err := config.LoadDefaultConfig(ctx)
//	...
//	cfg.HTTPClient = awsclient.InMemoryBodies(cfg.HTTPClient)
//
// before it makes its service clients. Without it, an SQS consumer on a
// fast connection loses whole receive responses now and then, and their
// messages stay hidden for their visibility timeout (measured: 2 to 5 of
// every 50,000-job drain on the loopback; none with it).
//
// Why: smithy-go (transport/http's Request.Build) wraps every request body
// in a reader whose WriteTo returns io.EOF once it is closed, and closes it
// as soon as Do returns with the response headers. net/http does not know
// that wrapper to be in memory, so it writes the headers and the body in
// separate writes, and after the body it reads the wrapper once more (to
// check nothing is left past ContentLength). When the response arrives
// before that last read, as it can on a fast connection, the read hits the
// closed wrapper, net/http takes the io.EOF for a failed write and closes
// the connection while the response body is still being read. A response
// larger than net/http's 4 KiB read buffer (an SQS receive of ten messages)
// loses its tail: the SDK logs "failed to discard remaining HTTP response
// body ... use of closed network connection" and retries the call, and the
// messages the lost response carried stay invisible for their visibility
// timeout. aws-sdk-go-v2 issues 1825, 2737 and 2935 show the same error
// against DynamoDB.
//
// A *bytes.Reader in an io.NopCloser is a body net/http knows to be in
// memory: it sends the headers and the body in one write, and nothing but
// net/http reads or closes it. GetBody lets net/http replay the body when a
// reused connection failed before the request was written.
//
// The SDK holds the request bodies of the services busywork calls (SQS,
// DynamoDB, SES v2) in memory already; copying them costs one buffer per
// request. Streaming uploads (S3) are not a use of this client.
func InMemoryBodies(next aws.HTTPClient) aws.HTTPClient {
	return inMemoryBodies{next: next}
}

type inMemoryBodies struct {
	next aws.HTTPClient
}

// Do sends a shallow copy of req whose body is an in-memory copy of
// req.Body; it closes req.Body, as a transport would.
func (c inMemoryBodies) Do(req *http.Request) (*http.Response, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return c.next.Do(req)
	}
	var buf bytes.Buffer
	if req.ContentLength > 0 {
		buf.Grow(int(req.ContentLength))
	}
	_, err := io.Copy(&buf, req.Body)
	if closeErr := req.Body.Close(); err == nil {
		err = closeErr
	}
	if err != nil {
		return nil, fmt.Errorf("read request body: %w", err)
	}

	r := *req // a shallow copy: the caller's request stays as it was
	body := buf.Bytes()
	r.ContentLength = int64(len(body))
	if len(body) == 0 {
		r.Body, r.GetBody = http.NoBody, nil
	} else {
		r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
		r.Body, _ = r.GetBody()
	}
	return c.next.Do(&r)
}
