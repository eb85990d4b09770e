// Package tracing traces busywork jobs with OpenTelemetry, from the send
// to the job's run, as one trace: the span of a web request that sends a
// job, the send to SQS, the job's run on a worker (with how long it
// waited in the queue) and the AWS calls its handler makes are parent and
// children. The producer and consumer packages depend on no tracing
// library; this package plugs into them:
//
//	tp := ... // an SDK TracerProvider, set with otel.SetTracerProvider
//
//	// the sender
//	q := producer.New(sqsClient, queueURL, producer.WithTracer(tracing.Producer()))
//
//	// the worker
//	mux := consumer.NewMux()
//	mux.Use(tracing.Middleware()) // first, so the job's span holds the others
//	consumer.Handle(mux, sendWelcome)
//
//	// the AWS clients handlers use: their calls become the job span's children
//	tracing.AWS(&awsCfg)
//
// busywork's runtime does all of it, and sets up the SDK, when the
// standard OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)
// variable is set; without it nothing is traced and nothing is added to a
// message.
//
// # On the wire
//
// Producer's spans put their W3C trace context (a traceparent) in the
// message's traceparent attribute (jobs.AttrTraceParent). Middleware
// continues it: the job's span is a child of the send's span, so one
// trace holds both, and the gap between them is the time in the queue.
// A message without it, from another producer, starts a new trace; one
// carrying SQS's AWSTraceHeader system attribute (an X-Ray header, from a
// sender traced with X-Ray) continues that instead. The consumer's copies
// of a message (a snooze, a retry past the queue's receives, a dead
// letter) and a replay from the DLQ keep both, so every run of a job is
// in the trace of its send.
//
// SQS's AWSTraceHeader would not count against SQS's 10 message
// attributes, but the local SQS emulator (fauxqs) ignores it on a send and
// never returns it, so a trace carried there could not be tested end to
// end; the attribute fits (a dead letter with every busywork attribute
// has 10) and is what OpenTelemetry's SQS instrumentations in other
// languages write. docs/guarantees.md has the reasoning.
//
// # Spans and attributes
//
// A send: "send TYPE" (kind producer) with messaging.system aws_sqs,
// messaging.operation.name send, messaging.destination.name (the queue),
// busywork.job.type, and busywork.job.id for one job or
// messaging.batch.message_count for several.
//
// A job's run: "process TYPE" (kind consumer), one per run of the
// handler (a retry, a snooze that runs again: each its own span, all
// children of the send), with messaging.system, messaging.operation.name
// process, messaging.destination.name, messaging.message.id,
// busywork.job.id, busywork.job.type, busywork.job.attempt,
// busywork.job.receive_count, busywork.lane and busywork.queue_wait_ms:
// from when SQS accepted the message (its SentTimestamp) to the handler's
// start. An error other than a snooze sets the span's status to Error.
//
// An AWS call: "SERVICE.OPERATION" such as "SESv2.SendEmail" (kind
// client), with rpc.system.name aws-api, rpc.method, cloud.region,
// aws.request_id and http.response.status_code. Only calls made under a
// span are traced: the worker's own receives, deletes and heartbeats
// would otherwise start a trace each.
package tracing
