package tracing

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// awsMiddlewareID names the SDK middleware that AWS adds.
const awsMiddlewareID = "busywork/tracing"

// rpcSystemAWS is rpc.system.name for AWS's APIs, as OpenTelemetry's
// instrumentations of the AWS SDKs name it.
var rpcSystemAWS = semconv.RPCSystemNameKey.String("aws-api")

// AWS makes every service client created from cfg afterwards trace its
// calls: a call made under a span (a job's, through its handler's
// context; a send's; a web request's) gets a span of kind client, named
// "SERVICE.OPERATION" as in "DynamoDB.GetItem", a child of that span,
// which covers the call with its retries. A call made outside any span is
// not traced: the worker's own receives, deletes and heartbeats would
// each start a trace of their own. A second AWS on the same
// configuration changes nothing.
//
// OpenTelemetry's contributed instrumentation of the SDK (otelaws) does
// much the same, but it is deprecated for want of an owner, and traces
// every call.
func AWS(cfg *aws.Config, opts ...Option) {
	t := tracer(opts)
	cfg.APIOptions = append(cfg.APIOptions, func(stack *middleware.Stack) error {
		if _, ok := stack.Initialize.Get(awsMiddlewareID); ok {
			return nil // traced already
		}
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc(awsMiddlewareID, func(
			ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler,
		) (middleware.InitializeOutput, middleware.Metadata, error) {
			if !trace.SpanContextFromContext(ctx).IsValid() {
				return next.HandleInitialize(ctx, in)
			}
			return traceCall(ctx, t, in, next)
		}), middleware.After)
	})
}

// traceCall runs the rest of an SDK call's stack under a span of its own.
func traceCall(ctx context.Context, t trace.Tracer, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
	service, operation := awsmiddleware.GetServiceID(ctx), awsmiddleware.GetOperationName(ctx)
	ctx, span := t.Start(ctx, service+"."+operation, trace.WithSpanKind(trace.SpanKindClient))
	defer span.End()
	out, md, err := next.HandleInitialize(ctx, in)
	if !span.IsRecording() {
		return out, md, err
	}
	span.SetAttributes(rpcSystemAWS, semconv.RPCMethod(service+"/"+operation), semconv.CloudRegion(awsmiddleware.GetRegion(ctx)))
	if id, ok := awsmiddleware.GetRequestIDMetadata(md); ok {
		span.SetAttributes(semconv.AWSRequestID(id))
	}
	if resp, ok := awsmiddleware.GetRawResponse(md).(*smithyhttp.Response); ok {
		span.SetAttributes(semconv.HTTPResponseStatusCode(resp.StatusCode))
	}
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	return out, md, err
}
