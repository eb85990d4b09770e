package producer_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/busywork/busywork/internal/testenv"
	"github.com/busywork/busywork/producer"
)

// BenchmarkSend measures Send throughput against the SQS emulator with 32
// goroutines per CPU calling Send, as a busy web server would, with
// micro-batching off and on. It reports sends/s and SQS requests per send.
func BenchmarkSend(b *testing.B) {
	for _, bc := range []struct {
		name string
		opts []func(*producer.Options)
	}{
		{"batching=off", nil},
		{"batching=on", []func(*producer.Options){producer.WithBatching(producer.SuggestedBatchWindow)}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			counts := map[string]*atomic.Int64{"SendMessage": {}, "SendMessageBatch": {}}
			client := testenv.SQS(b, countCalls(counts))
			queue, _ := testenv.NewQueue(b, client, testenv.QueueOptions{NoDLQ: true})
			p := producer.New(client, queue, bc.opts...)
			job := welcome{UserID: "ada"}
			b.SetParallelism(32)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := p.Send(context.Background(), job); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sends/s")
			requests := counts["SendMessage"].Load() + counts["SendMessageBatch"].Load()
			b.ReportMetric(float64(requests)/float64(b.N), "requests/send")
		})
	}
}
