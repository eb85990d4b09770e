// Package testenv connects integration tests to the local AWS emulators
// that `make test` starts (fauxqs for SQS, DynamoDB Local, aws-ses-v2-local
// for SES v2; see localstack/emulators.sh and shared/EMULATORS.md).
//
// The emulators are found through the standard AWS variables written by
// emulators.sh into .emulators/test/env: AWS_ENDPOINT_URL_SQS,
// AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL_SESV2, plus
// BUSYWORK_SES_STORE_URL for the mail the SES emulator stored. A test calls
// [Require] (or any client constructor, which calls it) first: without the
// emulators a plain `go test` skips the test, while under CI or `make test`
// (CI or BUSYWORK_INTEGRATION set) it fails, so a broken setup never passes
// silently. Endpoints that are not on the loopback interface are refused, so
// a test never talks to real AWS.
//
// All packages' tests share one set of emulators and may run at the same
// time: every queue and table made here has a unique name, and tests that
// read stored mail should filter it by a recipient of their own.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/busywork/busywork/awsclient"
)

// Environment variables read by this package.
const (
	// EnvSQS is the SQS endpoint variable the SDK honours.
	EnvSQS = "AWS_ENDPOINT_URL_SQS"
	// EnvDynamoDB is the DynamoDB endpoint variable the SDK honours.
	EnvDynamoDB = "AWS_ENDPOINT_URL_DYNAMODB"
	// EnvSESv2 is the SES v2 endpoint variable the SDK honours.
	EnvSESv2 = "AWS_ENDPOINT_URL_SESV2"
	// EnvSESStore is the base URL of aws-ses-v2-local, whose GET /store
	// lists the mail it received.
	EnvSESStore = "BUSYWORK_SES_STORE_URL"
	// EnvIntegration, when non-empty (as `make test` sets it), turns a
	// missing emulator setup into a test failure instead of a skip.
	EnvIntegration = "BUSYWORK_INTEGRATION"
)

// Region is the region the emulators are used with.
const Region = "us-east-1"

// Require skips the test when the emulators are not configured
// (AWS_ENDPOINT_URL_SQS unset), or fails it when CI or BUSYWORK_INTEGRATION
// is set, since then they should have been. It also fails the test when an
// emulator variable is missing or names a host other than the loopback
// interface, so an integration test never reaches real AWS.
func Require(t testing.TB) {
	t.Helper()
	if os.Getenv(EnvSQS) == "" {
		if os.Getenv("CI") != "" || os.Getenv(EnvIntegration) != "" {
			t.Fatal("emulators not configured: run `make test`")
		}
		t.Skip("integration test: run `make test` (starts the emulators)")
	}
	for _, name := range []string{EnvSQS, EnvDynamoDB, EnvSESv2, EnvSESStore} {
		v := os.Getenv(name)
		if v == "" {
			t.Fatalf("%s is not set while %s is: source the emulators' env file (make test does)", name, EnvSQS)
		}
		if !awsclient.IsLocalEndpoint(v) {
			t.Fatalf("%s=%q: %s", name, v, notLocal)
		}
	}
	// The generic endpoint is not used while the per-service ones are set,
	// but refuse a non-local one anyway: it signals a mixed-up shell.
	if v := os.Getenv("AWS_ENDPOINT_URL"); v != "" {
		if !awsclient.IsLocalEndpoint(v) {
			t.Fatalf("AWS_ENDPOINT_URL=%q: %s", v, notLocal)
		}
	}
}

// notLocal says why an endpoint is refused.
const notLocal = "not an http(s) URL on localhost or a loopback address: integration tests only talk to local emulators"

// AWSConfig returns an SDK configuration for the emulators, loaded by
// awsclient.Load as the commands load theirs (the same HTTP client): region
// us-east-1 and static credentials test/test unless the environment sets
// others. It calls [Require].
func AWSConfig(t testing.TB) aws.Config {
	t.Helper()
	Require(t)
	var opts []func(*config.LoadOptions) error
	if os.Getenv("AWS_REGION") == "" && os.Getenv("AWS_DEFAULT_REGION") == "" {
		opts = append(opts, config.WithRegion(Region))
	}
	if os.Getenv("AWS_ACCESS_KEY_ID") == "" {
		opts = append(opts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider("test", "test", "")))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cfg, err := awsclient.Load(ctx, opts...)
	if err != nil {
		t.Fatalf("testenv: load AWS config: %v", err)
	}
	return cfg
}

// SQS returns an SQS client for the fauxqs emulator; optFns adjust its
// options after the defaults.
func SQS(t testing.TB, optFns ...func(*sqs.Options)) *sqs.Client {
	t.Helper()
	return sqs.NewFromConfig(AWSConfig(t), optFns...)
}

// DynamoDB returns a DynamoDB client for DynamoDB Local, made by
// awsclient.NewDynamoDB (so, on that local endpoint, without response
// checksum validation); optFns adjust its options.
func DynamoDB(t testing.TB, optFns ...func(*dynamodb.Options)) *dynamodb.Client {
	t.Helper()
	return awsclient.NewDynamoDB(AWSConfig(t), optFns...)
}

// SESv2 returns an SES v2 client for aws-ses-v2-local; optFns adjust its
// options after the defaults.
func SESv2(t testing.TB, optFns ...func(*sesv2.Options)) *sesv2.Client {
	t.Helper()
	return sesv2.NewFromConfig(AWSConfig(t), optFns...)
}

// UniqueName returns prefix joined to the test's name (characters outside
// [A-Za-z0-9_-] replaced by '-') and a random suffix, at most maxLen
// characters long; the name is shortened, never the suffix.
func UniqueName(t testing.TB, prefix string, maxLen int) string {
	t.Helper()
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("testenv: random name: %v", err)
	}
	suffix := "-" + hex.EncodeToString(b[:])
	base := prefix + unsafeChars.ReplaceAllString(t.Name(), "-")
	if room := maxLen - len(suffix); len(base) > room {
		base = base[:max(room, 0)]
	}
	return base + suffix
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// QueueOptions configures [NewQueue]. The zero value gives a visibility
// timeout of 30 s and a DLQ after 3 receives.
type QueueOptions struct {
	// VisibilityTimeout is the queue's visibility timeout in seconds;
	// 0 means 30.
	VisibilityTimeout int
	// MaxReceiveCount is the redrive policy's maxReceiveCount; 0 means 3.
	MaxReceiveCount int
	// NoDLQ makes a queue without a dead-letter queue or redrive policy.
	NoDLQ bool
	// MaximumMessageSize is the queue's message size limit in bytes; 0
	// leaves SQS's default. SQS refuses larger messages entry by entry,
	// which makes a real partial batch failure.
	MaximumMessageSize int
}

// NewQueue creates a uniquely named standard queue for the test and, unless
// opts.NoDLQ, its dead-letter queue (the same name plus "-dlq") linked by a
// redrive policy {"deadLetterTargetArn": ..., "maxReceiveCount": N}. Both
// are deleted when the test ends. dlqURL is empty with NoDLQ.
func NewQueue(t testing.TB, client *sqs.Client, opts QueueOptions) (queueURL, dlqURL string) {
	t.Helper()
	if opts.VisibilityTimeout == 0 {
		opts.VisibilityTimeout = 30
	}
	if opts.MaxReceiveCount == 0 {
		opts.MaxReceiveCount = 3
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	const maxQueueName = 80
	name := UniqueName(t, "", maxQueueName-len("-dlq"))
	attrs := map[string]string{
		string(types.QueueAttributeNameVisibilityTimeout): strconv.Itoa(opts.VisibilityTimeout),
	}
	if opts.MaximumMessageSize != 0 {
		attrs[string(types.QueueAttributeNameMaximumMessageSize)] = strconv.Itoa(opts.MaximumMessageSize)
	}
	if !opts.NoDLQ {
		dlqURL = createQueue(ctx, t, client, name+"-dlq", nil)
		out, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
			QueueUrl:       aws.String(dlqURL),
			AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn},
		})
		if err != nil {
			t.Fatalf("testenv: get ARN of %s: %v", dlqURL, err)
		}
		arn := out.Attributes[string(types.QueueAttributeNameQueueArn)]
		if arn == "" {
			t.Fatalf("testenv: %s has no QueueArn attribute", dlqURL)
		}
		policy, err := json.Marshal(struct {
			DeadLetterTargetArn string `json:"deadLetterTargetArn"`
			MaxReceiveCount     int    `json:"maxReceiveCount"`
		}{arn, opts.MaxReceiveCount})
		if err != nil {
			t.Fatalf("testenv: redrive policy: %v", err)
		}
		attrs[string(types.QueueAttributeNameRedrivePolicy)] = string(policy)
	}
	queueURL = createQueue(ctx, t, client, name, attrs)
	return queueURL, dlqURL
}

func createQueue(ctx context.Context, t testing.TB, client *sqs.Client, name string, attrs map[string]string) string {
	t.Helper()
	out, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name), Attributes: attrs})
	if err != nil {
		t.Fatalf("testenv: create queue %s: %v", name, err)
	}
	u := aws.ToString(out.QueueUrl)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, err := client.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: aws.String(u)})
		var gone *types.QueueDoesNotExist
		if err != nil && !errors.As(err, &gone) {
			t.Errorf("testenv: delete queue %s: %v", u, err)
		}
	})
	return u
}

// NewTable creates a uniquely named on-demand table with string keys pk
// (hash) and sk (range), waits until it is ACTIVE, and deletes it when the
// test ends. It returns the table's name.
func NewTable(t testing.TB, client *dynamodb.Client) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	name := UniqueName(t, "t-", 255)
	_, err := client.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:   aws.String(name),
		BillingMode: ddbtypes.BillingModePayPerRequest,
		AttributeDefinitions: []ddbtypes.AttributeDefinition{
			{AttributeName: aws.String("pk"), AttributeType: ddbtypes.ScalarAttributeTypeS},
			{AttributeName: aws.String("sk"), AttributeType: ddbtypes.ScalarAttributeTypeS},
		},
		KeySchema: []ddbtypes.KeySchemaElement{
			{AttributeName: aws.String("pk"), KeyType: ddbtypes.KeyTypeHash},
			{AttributeName: aws.String("sk"), KeyType: ddbtypes.KeyTypeRange},
		},
	})
	if err != nil {
		t.Fatalf("testenv: create table %s: %v", name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, err := client.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(name)})
		var gone *ddbtypes.ResourceNotFoundException
		if err != nil && !errors.As(err, &gone) {
			t.Errorf("testenv: delete table %s: %v", name, err)
		}
	})
	for {
		out, err := client.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(name)})
		if err != nil {
			t.Fatalf("testenv: describe table %s: %v", name, err)
		}
		if out.Table != nil && out.Table.TableStatus == ddbtypes.TableStatusActive {
			return name
		}
		select {
		case <-ctx.Done():
			t.Fatalf("testenv: table %s not ACTIVE: %v", name, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// SendMessages sends entries to queueURL in SendMessageBatch calls of
// 10, giving each entry its index as Id, and fails the test if SQS
// refuses any.
func SendMessages(ctx context.Context, t testing.TB, client *sqs.Client, queueURL string, entries []types.SendMessageBatchRequestEntry) {
	t.Helper()
	for lo := 0; lo < len(entries); lo += 10 {
		batch := slices.Clone(entries[lo:min(lo+10, len(entries))])
		for i := range batch {
			batch[i].Id = aws.String(strconv.Itoa(lo + i))
		}
		out, err := client.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(queueURL), Entries: batch})
		if err != nil {
			t.Fatalf("testenv: send to %s: %v", queueURL, err)
		}
		if len(out.Failed) > 0 {
			t.Fatalf("testenv: send to %s: entry %s failed: %s", queueURL, aws.ToString(out.Failed[0].Id), aws.ToString(out.Failed[0].Message))
		}
	}
}

// AwaitEmpty waits until queueURL holds no message, visible, in flight
// or delayed: every copy of every job was handled. It fails the test,
// naming the counts, when timeout passes first. fauxqs counts delayed
// messages only after a receive on the queue: call it while a worker
// serves the queue.
func AwaitEmpty(t testing.TB, client *sqs.Client, queueURL string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for QueueSize(t, client, queueURL) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("testenv: after %v %s still holds %d messages", timeout, queueURL, QueueSize(t, client, queueURL))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// ReceiveAll receives from queueURL, one-second long polls at a time, until
// it holds n distinct messages (by MessageId), and returns those n with all
// system and message attributes. It deletes nothing and asks for no more
// messages than it still needs, so the queue's other messages stay visible
// to what the test does next. The messages it returns are in flight for the
// queue's own visibility timeout, as after any receive: change their
// visibility to see them again sooner. On a queue whose timeout is shorter
// than the wait, a message may come back meanwhile; it is counted once. It
// fails the test,
// naming how many it saw, when timeout passes or ctx ends first. Call it
// from the test's goroutine.
func ReceiveAll(ctx context.Context, t testing.TB, client *sqs.Client, queueURL string, n int, timeout time.Duration) []types.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var got []types.Message
	seen := make(map[string]bool)
	for len(got) < n {
		out, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl:                    aws.String(queueURL),
			MaxNumberOfMessages:         int32(min(10, n-len(got))),
			WaitTimeSeconds:             1,
			MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll},
			MessageAttributeNames:       []string{"All"},
		})
		if ctx.Err() != nil {
			t.Fatalf("testenv: received %d of %d messages from %s within %v: %v", len(got), n, queueURL, timeout, ctx.Err())
		}
		if err != nil {
			t.Fatalf("testenv: receive from %s (after %d of %d messages): %v", queueURL, len(got), n, err)
		}
		for _, m := range out.Messages {
			if id := aws.ToString(m.MessageId); !seen[id] {
				seen[id] = true
				got = append(got, m)
			}
		}
	}
	return got
}

// Mail is one message stored by aws-ses-v2-local, as its GET /store lists
// it. For SendEmail with Simple content the fields are the request's; for
// Raw content From and the Destination lists hold raw header strings (for
// example `Ada <ada@example.com>`) parsed from the MIME message.
type Mail struct {
	// MessageID is the MessageId SendEmail returned ("ses-" and 9 digits).
	MessageID string `json:"messageId"`
	// From is the sender as given.
	From string `json:"from"`
	// ReplyTo lists the reply-to addresses.
	ReplyTo []string `json:"replyTo"`
	// Destination holds the recipients.
	Destination MailDestination `json:"destination"`
	// Subject is the subject line.
	Subject string `json:"subject"`
	// Body holds the HTML and text parts; either may be empty.
	Body MailBody `json:"body"`
	// Attachments lists the attached files.
	Attachments []MailAttachment `json:"attachments"`
	// Headers lists extra headers given with Simple content.
	Headers []MailHeader `json:"headers"`
	// At is when the emulator stored the mail, in Unix seconds.
	At int64 `json:"at"`
}

// MailDestination holds a [Mail]'s recipients.
type MailDestination struct {
	// To lists the To recipients.
	To []string `json:"to"`
	// Cc lists the Cc recipients.
	Cc []string `json:"cc"`
	// Bcc lists the Bcc recipients.
	Bcc []string `json:"bcc"`
}

// MailBody holds a [Mail]'s content.
type MailBody struct {
	// HTML is the HTML part.
	HTML string `json:"html"`
	// Text is the plain-text part.
	Text string `json:"text"`
}

// MailAttachment is one file attached to a [Mail].
type MailAttachment struct {
	// Filename is the attachment's file name.
	Filename string `json:"filename"`
	// ContentType is its MIME type.
	ContentType string `json:"contentType"`
	// Content is the file's bytes, base64-encoded.
	Content string `json:"content"`
	// Size is the decoded length in bytes.
	Size int `json:"size"`
}

// MailHeader is one extra header of a [Mail].
type MailHeader struct {
	// Name is the header's name.
	Name string `json:"name"`
	// Value is the header's value.
	Value string `json:"value"`
}

// storeClient reads the SES emulator's store; a zero Transport uses no proxy.
var storeClient = &http.Client{Transport: &http.Transport{}}

// Mails returns the mail aws-ses-v2-local stored at or after since (whole
// seconds: the emulator keeps Unix seconds), oldest first. The store is
// shared by every test running against the emulators: filter the result by
// a recipient only this test uses. It calls [Require].
func Mails(t testing.TB, since time.Time) []Mail {
	t.Helper()
	Require(t)
	base := strings.TrimRight(os.Getenv(EnvSESStore), "/")
	u := base + "/store?since=" + strconv.FormatInt(since.Unix(), 10)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	resp, err := storeClient.Do(req)
	if err != nil {
		t.Fatalf("testenv: GET %s: %v", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("testenv: GET %s: %s", u, resp.Status)
	}
	var store struct {
		Emails []Mail `json:"emails"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&store); err != nil {
		t.Fatalf("testenv: decode %s: %v", u, err)
	}
	return store.Emails
}

// QueueSize returns how many messages queueURL holds: visible, in flight
// and delayed.
func QueueSize(t testing.TB, client *sqs.Client, queueURL string) int {
	t.Helper()
	names := []types.QueueAttributeName{
		types.QueueAttributeNameApproximateNumberOfMessages,
		types.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
		types.QueueAttributeNameApproximateNumberOfMessagesDelayed,
	}
	out, err := client.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{QueueUrl: aws.String(queueURL), AttributeNames: names})
	if err != nil {
		t.Fatalf("testenv: attributes of %s: %v", queueURL, err)
	}
	var n int
	for _, name := range names {
		v, err := strconv.Atoi(out.Attributes[string(name)])
		if err != nil {
			t.Fatalf("testenv: %s of %s: %v", name, queueURL, err)
		}
		n += v
	}
	return n
}
