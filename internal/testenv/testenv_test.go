package testenv

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sesv2"
	sestypes "github.com/aws/aws-sdk-go-v2/service/sesv2/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

func TestUniqueNameIsSafeShortAndUnique(t *testing.T) {
	t.Run(strings.Repeat("very long/sub test name with spaces ", 5), func(t *testing.T) {
		a, b := UniqueName(t, "p-", 76), UniqueName(t, "p-", 76)
		if a == b {
			t.Fatalf("two names are equal: %s", a)
		}
		for _, n := range []string{a, b} {
			if len(n) > 76 || !strings.HasPrefix(n, "p-TestUniqueName") || unsafeChars.MatchString(n) {
				t.Errorf("bad name %q (len %d)", n, len(n))
			}
		}
	})
}

func TestNewQueueRedrivesToDLQ(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	client := SQS(t)
	queueURL, dlqURL := NewQueue(t, client, QueueOptions{VisibilityTimeout: 7, MaxReceiveCount: 1})
	if dlqURL == "" || !strings.HasSuffix(dlqURL, "-dlq") {
		t.Fatalf("dlqURL = %q", dlqURL)
	}
	for _, u := range []string{queueURL, dlqURL} {
		if !strings.HasPrefix(u, "http://127.0.0.1:") {
			t.Errorf("queue URL %q is not on 127.0.0.1", u)
		}
	}
	t.Logf("queue %s, DLQ %s", queueURL, dlqURL)

	attrs, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl:       aws.String(queueURL),
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameAll},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := attrs.Attributes["VisibilityTimeout"]; got != "7" {
		t.Errorf("VisibilityTimeout = %q, want 7", got)
	}
	var policy struct {
		DeadLetterTargetArn string          `json:"deadLetterTargetArn"`
		MaxReceiveCount     json.RawMessage `json:"maxReceiveCount"`
	}
	if err := json.Unmarshal([]byte(attrs.Attributes["RedrivePolicy"]), &policy); err != nil {
		t.Fatalf("RedrivePolicy %q: %v", attrs.Attributes["RedrivePolicy"], err)
	}
	if !strings.HasSuffix(policy.DeadLetterTargetArn, ":"+dlqURL[strings.LastIndex(dlqURL, "/")+1:]) ||
		strings.Trim(string(policy.MaxReceiveCount), `"`) != "1" {
		t.Errorf("RedrivePolicy = %s", attrs.Attributes["RedrivePolicy"])
	}

	_, err = client.SendMessage(ctx, &sqs.SendMessageInput{
		QueueUrl:    aws.String(queueURL),
		MessageBody: aws.String(`{"type":"noop"}`),
		MessageAttributes: map[string]types.MessageAttributeValue{
			"job_type": {DataType: aws.String("String"), StringValue: aws.String("noop")},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	msgs := ReceiveAll(ctx, t, client, queueURL, 1, 10*time.Second)
	m := msgs[0]
	if aws.ToString(m.Body) != `{"type":"noop"}` ||
		aws.ToString(m.MessageAttributes["job_type"].StringValue) != "noop" ||
		m.Attributes["ApproximateReceiveCount"] != "1" {
		t.Fatalf("received %q, attributes %v, message attributes %v", aws.ToString(m.Body), m.Attributes, m.MessageAttributes)
	}

	// Release it; with maxReceiveCount 1 the next receive moves it to the DLQ.
	if _, err := client.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
		QueueUrl: aws.String(queueURL), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0,
	}); err != nil {
		t.Fatal(err)
	}
	again, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(queueURL), WaitTimeSeconds: 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(again.Messages) != 0 {
		t.Fatalf("message received a second time from the queue instead of moving to the DLQ")
	}
	dead := ReceiveAll(ctx, t, client, dlqURL, 1, 10*time.Second)
	if aws.ToString(dead[0].MessageId) != aws.ToString(m.MessageId) {
		t.Errorf("DLQ holds message %s, want %s", aws.ToString(dead[0].MessageId), aws.ToString(m.MessageId))
	}
}

func TestNewQueueWithoutDLQ(t *testing.T) {
	t.Parallel()
	client := SQS(t)
	queueURL, dlqURL := NewQueue(t, client, QueueOptions{NoDLQ: true})
	if queueURL == "" || dlqURL != "" {
		t.Fatalf("NewQueue = %q, %q; want a queue and no DLQ", queueURL, dlqURL)
	}
	attrs, err := client.GetQueueAttributes(t.Context(), &sqs.GetQueueAttributesInput{
		QueueUrl:       aws.String(queueURL),
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameAll},
	})
	if err != nil {
		t.Fatal(err)
	}
	if rp, ok := attrs.Attributes["RedrivePolicy"]; ok || attrs.Attributes["VisibilityTimeout"] != "30" {
		t.Errorf("attributes %v: want VisibilityTimeout 30 and no RedrivePolicy (got %q)", attrs.Attributes, rp)
	}
}

func TestNewTablePutGet(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	client := DynamoDB(t)
	table := NewTable(t, client)

	item := map[string]ddbtypes.AttributeValue{
		"pk":   &ddbtypes.AttributeValueMemberS{Value: "user#ada@example.com"},
		"sk":   &ddbtypes.AttributeValueMemberS{Value: "profile"},
		"name": &ddbtypes.AttributeValueMemberS{Value: "Ada"},
	}
	if _, err := client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: item}); err != nil {
		t.Fatal(err)
	}
	out, err := client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(table),
		Key:            map[string]ddbtypes.AttributeValue{"pk": item["pk"], "sk": item["sk"]},
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		t.Fatal(err)
	}
	name, ok := out.Item["name"].(*ddbtypes.AttributeValueMemberS)
	if !ok || name.Value != "Ada" {
		t.Fatalf("GetItem = %v", out.Item)
	}

	// An error reply (no CRC32 header from DynamoDB Local) still decodes
	// into its typed error.
	_, err = client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(table), Item: item,
		ConditionExpression: aws.String("attribute_not_exists(pk)"),
	})
	var ccf *ddbtypes.ConditionalCheckFailedException
	if !errors.As(err, &ccf) {
		t.Fatalf("conditional put = %v, want ConditionalCheckFailedException", err)
	}
}

func TestSESv2MailsShowsSentEmail(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	client := SESv2(t)
	since := time.Now()
	to := UniqueName(t, "", 40) + "@example.com"
	out, err := client.SendEmail(ctx, &sesv2.SendEmailInput{
		FromEmailAddress: aws.String("no-reply@example.com"),
		Destination:      &sestypes.Destination{ToAddresses: []string{to}, CcAddresses: []string{"cc@example.com"}},
		Content: &sestypes.EmailContent{Simple: &sestypes.Message{
			Subject: &sestypes.Content{Data: aws.String("Your login link")},
			Body: &sestypes.Body{
				Html: &sestypes.Content{Data: aws.String("<p>Hello</p>")},
				Text: &sestypes.Content{Data: aws.String("Hello")},
			},
			Attachments: []sestypes.Attachment{{
				FileName: aws.String("ticket.txt"), ContentType: aws.String("text/plain"), RawContent: []byte("admit one"),
			}},
		}},
	})
	if err != nil {
		t.Fatal(err)
	}

	var mine []Mail
	for _, m := range Mails(t, since) {
		if slices.Contains(m.Destination.To, to) {
			mine = append(mine, m)
		}
	}
	if len(mine) != 1 {
		t.Fatalf("found %d mails to %s, want 1", len(mine), to)
	}
	m := mine[0]
	t.Logf("stored mail: %+v", m)
	if m.MessageID != aws.ToString(out.MessageId) || m.From != "no-reply@example.com" ||
		m.Subject != "Your login link" || m.Body.HTML != "<p>Hello</p>" || m.Body.Text != "Hello" ||
		!slices.Equal(m.Destination.Cc, []string{"cc@example.com"}) || m.At < since.Unix() {
		t.Errorf("stored mail %+v does not match what was sent (MessageId %s)", m, aws.ToString(out.MessageId))
	}
	if len(m.Attachments) != 1 {
		t.Fatalf("attachments = %+v", m.Attachments)
	}
	a := m.Attachments[0]
	content, err := base64.StdEncoding.DecodeString(a.Content)
	if err != nil || string(content) != "admit one" || a.Filename != "ticket.txt" || a.ContentType != "text/plain" || a.Size != len("admit one") {
		t.Errorf("attachment %+v (content %q, %v)", a, content, err)
	}

	if later := Mails(t, time.Now().Add(time.Hour)); len(later) != 0 {
		t.Errorf("Mails(an hour from now) = %d mails, want none", len(later))
	}
}

func TestReceiveAllWaitsForEveryMessage(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	client := SQS(t)
	queueURL, _ := NewQueue(t, client, QueueOptions{NoDLQ: true})
	const n = 23
	for i := range n {
		if _, err := client.SendMessage(ctx, &sqs.SendMessageInput{
			QueueUrl: aws.String(queueURL), MessageBody: aws.String(strings.Repeat("x", i+1)),
		}); err != nil {
			t.Fatal(err)
		}
	}
	got := ReceiveAll(ctx, t, client, queueURL, n, 20*time.Second)
	if len(got) != n {
		t.Fatalf("ReceiveAll returned %d messages, want %d", len(got), n)
	}
	seen := map[string]bool{}
	for _, m := range got {
		seen[aws.ToString(m.Body)] = true
		if m.Attributes["SentTimestamp"] == "" {
			t.Errorf("message %s lacks SentTimestamp (attributes %v)", aws.ToString(m.MessageId), m.Attributes)
		}
	}
	if len(seen) != n {
		t.Errorf("got %d distinct bodies, want %d", len(seen), n)
	}
}
