// Package awsclient gives SDK clients the AWS configuration and HTTP client
// busywork's runtime uses, so that a program's own clients talk to AWS (or
// the emulators) the same way: busywork's commands, its tests'
// internal/testenv, and a team's service built on busywork alike.
//
// The reason to use it rather than config.LoadDefaultConfig alone is
// [InMemoryBodies]: the SDK's request-body wrapper races net/http on fast
// connections, net/http then closes a connection whose response is still
// being read, and for an SQS receive the messages of the lost response
// stay hidden for their visibility timeout.
//
// [Load] reads the standard configuration (AWS_REGION, AWS_ENDPOINT_URL_*,
// credentials) with an HTTP client tuned for many pollers and parallel batch
// calls, which also keeps the SDK's own request-body wrapper from losing
// responses. [NewDynamoDB] makes a DynamoDB client that validates response
// checksums unless its endpoint is local. [Interactive] adapts a
// configuration for clients a person waits on (the web app's): retries that
// fit a 1 s deadline and a timeout per attempt.
//
//	cfg, err := awsclient.Load(ctx)
//	if err != nil { ... }
//	queue := sqs.NewFromConfig(cfg)
//	table := awsclient.NewDynamoDB(cfg)
//	webQueue := sqs.NewFromConfig(awsclient.Interactive(cfg))
package awsclient

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// ResponseHeaderTimeout bounds the wait for a response's headers. It
// exceeds SQS's longest long poll (20 s).
const ResponseHeaderTimeout = 40 * time.Second

// Connection pool sizes of the HTTP client. The SDK's default of 10 idle
// connections per host is too few for many pollers and parallel batch
// calls: past it, connections are closed and dialled again.
const (
	maxIdleConns        = 200
	maxIdleConnsPerHost = 100
)

// Load returns the AWS configuration that config.LoadDefaultConfig reads
// from the environment and shared files, with optFns applied after
// busywork's HTTP client, which keeps up to 100 idle connections per host
// and waits [ResponseHeaderTimeout] for response headers.
//
// The loader gets that client as an awshttp.BuildableClient (with
// AWS_CA_BUNDLE set, as on many corporate machines, it refuses any other
// type). Once loaded, the configuration's client is wrapped so that the
// transport is handed an in-memory copy of each request body: the SDK's
// own body wrapper makes net/http close a connection whose response is
// still being read, and the SDK then retries the call, which for an SQS
// receive strands the received messages for their visibility timeout (see
// [InMemoryBodies]). Service clients made from the configuration share
// that client and its connection pool; as the wrapper is no BuildableClient,
// they leave it as it is (the SDK tunes a BuildableClient per service only
// with a non-legacy defaults mode or its opt-in read timeouts).
func Load(ctx context.Context, optFns ...func(*config.LoadOptions) error) (aws.Config, error) {
	opts := append([]func(*config.LoadOptions) error{config.WithHTTPClient(tunedClient())}, optFns...)
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return cfg, err
	}
	cfg.HTTPClient = InMemoryBodies(cfg.HTTPClient)
	return cfg, nil
}

// tunedClient returns the SDK's buildable HTTP client with busywork's pool
// sizes and response header timeout.
func tunedClient() *awshttp.BuildableClient {
	return awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
		tr.MaxIdleConns = maxIdleConns
		tr.MaxIdleConnsPerHost = maxIdleConnsPerHost
		tr.ResponseHeaderTimeout = ResponseHeaderTimeout
	})
}

// NewDynamoDB returns a DynamoDB client for cfg; optFns adjust its options
// as dynamodb.NewFromConfig's do. It validates the CRC32 checksum of every
// response, as against AWS, unless the endpoint it resolved (from
// AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL, the shared config or an
// optFn's BaseEndpoint) is local ([IsLocalEndpoint]): DynamoDB Local's
// error replies carry no checksum, and the SDK would log a warning for each.
func NewDynamoDB(cfg aws.Config, optFns ...func(*dynamodb.Options)) *dynamodb.Client {
	fns := append(slices.Clip(optFns), func(o *dynamodb.Options) {
		if o.BaseEndpoint != nil && IsLocalEndpoint(*o.BaseEndpoint) {
			o.DisableValidateResponseChecksum = true
		}
	})
	return dynamodb.NewFromConfig(cfg, fns...)
}

// IsLocalEndpoint reports whether endpoint is an http or https URL whose
// host is localhost or a loopback address (127.0.0.0/8, ::1): an emulator
// on this machine, never AWS.
func IsLocalEndpoint(endpoint string) bool {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return false
	}
	host := u.Hostname()
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
