package tracing_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/busywork/busywork/jobs"
	"github.com/busywork/busywork/producer"
	"github.com/busywork/busywork/tracing"
)

// acceptAll is a producer.SendAPI that accepts every message at once.
type acceptAll struct{}

func (acceptAll) SendMessage(context.Context, *sqs.SendMessageInput, ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	return &sqs.SendMessageOutput{MessageId: aws.String("m")}, nil
}

func (acceptAll) SendMessageBatch(context.Context, *sqs.SendMessageBatchInput, ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	return &sqs.SendMessageBatchOutput{}, nil
}

// BenchmarkSend_Tracing measures what tracing adds to a Send, SQS left
// out (an SQS call takes milliseconds): nothing without a Tracer; with
// tracing.Producer and no SDK (the global provider unset, or a no-op
// one), a span that records nothing and no attribute; with an SDK, a
// recorded span and the traceparent.
func BenchmarkSend_Tracing(b *testing.B) {
	for _, bc := range []struct {
		name   string
		tracer producer.Tracer
	}{
		{"no Tracer", nil},
		{"Producer, global provider unset", tracing.Producer()},
		{"Producer, no-op provider", tracing.Producer(tracing.WithTracerProvider(noop.NewTracerProvider()))},
		{"Producer, SDK", tracing.Producer(tracing.WithTracerProvider(sdktrace.NewTracerProvider()))},
	} {
		b.Run(bc.name, func(b *testing.B) {
			p := producer.New(acceptAll{}, "http://127.0.0.1/000000000000/q", producer.WithTracer(bc.tracer))
			job := jobs.Ping{Message: "hi"}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.Send(context.Background(), job); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
