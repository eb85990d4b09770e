package tracing

import (
	"context"
	"strings"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// The W3C trace context header this package reads and writes.
const traceParentHeader = "traceparent"

// traceContext reads and writes W3C trace context headers.
var traceContext propagation.TraceContext

// carrier is a propagation.TextMapCarrier of the traceparent header alone:
// a message carries no tracestate.
type carrier struct{ parent string }

func (c *carrier) Get(key string) string {
	if key == traceParentHeader {
		return c.parent
	}
	return ""
}

func (c *carrier) Set(key, value string) {
	if key == traceParentHeader {
		c.parent = value
	}
}

func (c *carrier) Keys() []string { return []string{traceParentHeader} }

// formatParent returns the traceparent of the span in ctx, or "" if ctx
// holds no valid span context.
func formatParent(ctx context.Context) string {
	var c carrier
	traceContext.Inject(ctx, &c)
	return c.parent
}

// parseParent returns the span context a traceparent names; it is not
// valid if parent is malformed or empty.
func parseParent(parent string) trace.SpanContext {
	if parent == "" {
		return trace.SpanContext{}
	}
	return trace.SpanContextFromContext(traceContext.Extract(context.Background(), &carrier{parent: parent}))
}

// parseXRay returns the span context an X-Ray trace header (SQS's
// AWSTraceHeader) names, such as
// "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1":
// the trace id is the root's two hex parts, the span id its parent. It is
// not valid if the header has no root or no parent, or they are
// malformed.
func parseXRay(header string) trace.SpanContext {
	var root, parent string
	sampled := false
	for field := range strings.SplitSeq(header, ";") {
		key, value, _ := strings.Cut(strings.TrimSpace(field), "=")
		switch key {
		case "Root":
			root = value
		case "Parent":
			parent = value
		case "Sampled":
			sampled = value == "1"
		}
	}
	version, rest, _ := strings.Cut(root, "-")
	epoch, unique, _ := strings.Cut(rest, "-")
	if version != "1" || len(epoch) != 8 || len(unique) != 24 {
		return trace.SpanContext{}
	}
	tid, err := trace.TraceIDFromHex(epoch + unique)
	if err != nil {
		return trace.SpanContext{}
	}
	sid, err := trace.SpanIDFromHex(parent)
	if err != nil {
		return trace.SpanContext{}
	}
	var flags trace.TraceFlags
	if sampled {
		flags = trace.FlagsSampled
	}
	return trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: sid, TraceFlags: flags, Remote: true})
}
