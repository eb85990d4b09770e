package busywork

import (
	"cmp"
	"context"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"

	"github.com/busywork/busywork/consumer"
	"github.com/busywork/busywork/producer"
	"github.com/busywork/busywork/tracing"
)

// Traces: every command exports OpenTelemetry traces over OTLP/HTTP when
// the standard OTEL_EXPORTER_OTLP_ENDPOINT or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT names a collector, configured by the
// other standard variables (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES,
// OTEL_TRACES_SAMPLER, OTEL_EXPORTER_OTLP_HEADERS, OTEL_BSP_*, ...). Then
// the runtime's producers trace their sends (package tracing), the worker
// runs each job under a span continuing its send's trace, and the SDK
// clients made from the runtime's AWS configuration trace the calls made
// under a span. Without an endpoint nothing is set up, the global
// TracerProvider stays OpenTelemetry's no-op one, and no message carries
// a trace context.

// traceFlushTimeout bounds the export of the last spans when a command
// ends.
const traceFlushTimeout = 5 * time.Second

// traceSettings reports whether the environment asks for traces, and
// refuses what the runtime cannot honour: an exporter other than OTLP, a
// protocol other than http/protobuf.
func traceSettings() (on bool, err error) {
	if strings.EqualFold(strings.TrimSpace(os.Getenv("OTEL_SDK_DISABLED")), "true") {
		return false, nil
	}
	switch exporter := os.Getenv("OTEL_TRACES_EXPORTER"); exporter {
	case "", "otlp":
	case "none":
		return false, nil
	default:
		return false, ConfigErrorf("OTEL_TRACES_EXPORTER=%s: busywork exports traces with otlp (or none)", exporter)
	}
	if os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") == "" && os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") == "" {
		return false, nil
	}
	protocol := cmp.Or(os.Getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"), os.Getenv("OTEL_EXPORTER_OTLP_PROTOCOL"))
	if protocol != "" && protocol != "http/protobuf" {
		return false, ConfigErrorf("OTEL_EXPORTER_OTLP_PROTOCOL=%s: busywork exports traces over http/protobuf (a collector's port 4318)", protocol)
	}
	return true, nil
}

// tracingOn reports whether the environment asks for traces (see
// traceSettings; Run refuses bad settings before any command runs).
func tracingOn() bool {
	on, _ := traceSettings()
	return on
}

// startTracing sets up the OpenTelemetry SDK as the global TracerProvider
// when the environment asks for traces, naming the service after app
// unless OTEL_SERVICE_NAME or OTEL_RESOURCE_ATTRIBUTES does. It returns
// the function that exports what is left, by deadline at the latest;
// export failures are logged as JSON lines on stderr.
func startTracing(ctx context.Context, app *App, stderr io.Writer) (flush func(deadline time.Time), err error) {
	on, err := traceSettings()
	if err != nil || !on {
		return func(time.Time) {}, err
	}
	exporter, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, ConfigErrorf("OTEL_EXPORTER_OTLP_*: %v", err)
	}
	res, err := resource.New(ctx,
		resource.WithAttributes(semconv.ServiceName(app.name()), semconv.ServiceVersion(app.version())),
		resource.WithFromEnv(), resource.WithTelemetrySDK())
	if err != nil {
		return nil, ConfigErrorf("OTEL_RESOURCE_ATTRIBUTES or OTEL_SERVICE_NAME: %v", err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exporter), sdktrace.WithResource(res))
	log := newLogger(stderr, slog.LevelWarn)
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		log.Warn("tracing: OpenTelemetry failed", "error", err)
	}))
	otel.SetTracerProvider(tp)
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	return func(deadline time.Time) {
		ctx, cancel := context.WithDeadline(context.Background(), deadline)
		defer cancel()
		if err := tp.Shutdown(ctx); err != nil {
			log.Warn("tracing: the last spans were not exported", "error", err)
		}
	}, nil
}

// runTraced runs inv's command under the traces the environment asks
// for, and exports the last spans once it returns.
func (app *App) runTraced(ctx context.Context, inv *Invocation) error {
	var stopped atomic.Pointer[time.Time]
	context.AfterFunc(ctx, func() {
		now := time.Now()
		stopped.Store(&now)
	})
	flush, err := startTracing(ctx, app, inv.Stderr)
	if err != nil {
		return err
	}
	defer func() { flush(flushDeadline(time.Now(), stopped.Load())) }()
	return inv.Command.Run(ctx, inv)
}

// flushDeadline is how long a command that ended at now may take to
// export its last spans: traceFlushTimeout, and for a command stopped by
// a signal (at *stopped), not past ECS's stop timeout from then: a worker
// whose drain used all of it exports nothing more rather than be killed.
func flushDeadline(now time.Time, stopped *time.Time) time.Time {
	deadline := now.Add(traceFlushTimeout)
	if stopped == nil {
		return deadline
	}
	if last := stopped.Add(ECSStopTimeout - time.Second); last.Before(deadline) {
		return last
	}
	return deadline
}

// traceAWS makes the SDK clients built from cfg trace their calls made
// under a span, when traces are on.
func traceAWS(cfg *aws.Config) {
	if tracingOn() {
		tracing.AWS(cfg)
	}
}

// traceSends adds the producer option that traces sends, when traces
// are on.
func traceSends(opts []func(*producer.Options)) []func(*producer.Options) {
	if tracingOn() {
		opts = append(opts, producer.WithTracer(tracing.Producer()))
	}
	return opts
}

// traceJobs installs the middleware that runs each job under a span, when
// traces are on; first, so that the job's span holds the others.
func traceJobs(mux *consumer.Mux) {
	if tracingOn() {
		mux.Use(tracing.Middleware())
	}
}

// Tracing reports whether the runtime exports traces for this command
// (OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is
// set): the producers Router makes trace their sends, the clients made
// from AWS trace the calls made under a span, and an App's own command
// may trace more, such as its web server's requests with otelhttp.
func (inv *Invocation) Tracing() bool { return tracingOn() }
