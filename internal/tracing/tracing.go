// Package tracing adapts OpenTelemetry tracing to tollgate: it is the only
// package that imports the OpenTelemetry SDK. A [Tracer] gives every call a
// span (a core.Observer), every stage a child span (a pipeline.Instrument),
// and passes the W3C trace context to the upstream (a core.HeaderInjector),
// with the GenAI semantic-convention attributes: gen_ai.system,
// gen_ai.provider.name, gen_ai.operation.name, gen_ai.request.model,
// gen_ai.usage.input_tokens and gen_ai.usage.output_tokens.
//
// Tracing is off unless the standard OTEL_* environment variables turn it
// on; see [FromEnv].
package tracing

import (
	"context"
	"net/http"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/pipeline"
)

// ScopeName is the instrumentation scope of tollgate's spans.
const ScopeName = "github.com/tollgate-dev/tollgate"

// Attribute keys from the OpenTelemetry GenAI semantic conventions, and
// tollgate's own.
const (
	AttrSystem       = attribute.Key("gen_ai.system")
	AttrProviderName = attribute.Key("gen_ai.provider.name")
	AttrOperation    = attribute.Key("gen_ai.operation.name")
	AttrRequestModel = attribute.Key("gen_ai.request.model")
	AttrInputTokens  = attribute.Key("gen_ai.usage.input_tokens")
	AttrOutputTokens = attribute.Key("gen_ai.usage.output_tokens")
	AttrServerAddr   = attribute.Key("server.address")
	AttrHTTPStatus   = attribute.Key("http.response.status_code")
	AttrErrorType    = attribute.Key("error.type")
	AttrCallID       = attribute.Key("tollgate.call_id")
	AttrCustomer     = attribute.Key("tollgate.customer")
	AttrUpstream     = attribute.Key("tollgate.upstream")
	AttrStatus       = attribute.Key("tollgate.status")
	AttrStage        = attribute.Key("tollgate.stage")
	AttrStream       = attribute.Key("tollgate.stream")
	AttrCacheHit     = attribute.Key("tollgate.cache_hit")
	AttrRetries      = attribute.Key("tollgate.retries")
	AttrTTFT         = attribute.Key("tollgate.time_to_first_token_ms")
)

// Tracer traces calls. It is safe for concurrent use.
type Tracer struct {
	tracer   trace.Tracer
	prop     propagation.TextMapPropagator
	shutdown func(context.Context) error
}

// New returns a tracer that records to tp; shutdown, if not nil, is what
// [Tracer.Shutdown] calls. Tests pass a provider with an in-memory exporter.
func New(tp trace.TracerProvider, shutdown func(context.Context) error) *Tracer {
	return &Tracer{
		tracer:   tp.Tracer(ScopeName),
		prop:     propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}),
		shutdown: shutdown,
	}
}

// Shutdown flushes the spans not yet exported, within ctx's deadline.
func (t *Tracer) Shutdown(ctx context.Context) error {
	if t == nil || t.shutdown == nil {
		return nil
	}
	return t.shutdown(ctx)
}

// callSpanKey marks a context whose call span this tracer started.
type callSpanKey struct{}

// StartCall starts the call's span, a child of the trace context the client
// sent (traceparent), if any.
func (t *Tracer) StartCall(ctx context.Context, req *core.Request) context.Context {
	ctx = t.prop.Extract(ctx, propagation.HeaderCarrier(req.Header))
	ctx, span := t.tracer.Start(ctx, spanName(req), trace.WithSpanKind(trace.SpanKindServer),
		trace.WithTimestamp(req.Received), trace.WithAttributes(requestAttrs(req)...))
	ctx = context.WithValue(ctx, callSpanKey{}, span)
	return core.WithHeaderInjector(ctx, t)
}

// Complete ends the call's span with the outcome. A call refused at ingress
// had no span yet; it gets one that covers it, from arrival to now.
func (t *Tracer) Complete(o *core.Outcome) {
	span, ok := o.Context.Value(callSpanKey{}).(trace.Span)
	if !ok {
		ctx := o.Context
		if ctx == nil {
			ctx = context.Background()
		}
		ctx = t.prop.Extract(ctx, propagation.HeaderCarrier(o.Request.Header))
		_, span = t.tracer.Start(ctx, spanName(o.Request), trace.WithSpanKind(trace.SpanKindServer),
			trace.WithTimestamp(o.Request.Received), trace.WithAttributes(requestAttrs(o.Request)...))
	}
	r := o.Request
	attrs := []attribute.KeyValue{
		AttrStatus.String(o.Status),
		AttrHTTPStatus.Int(o.HTTPStatus),
		AttrInputTokens.Int64(o.Usage.InputTokens),
		AttrOutputTokens.Int64(o.Usage.OutputTokens),
		AttrCacheHit.Bool(r.CacheHit),
		AttrRetries.Int(r.Retries),
	}
	if r.Customer != "" {
		attrs = append(attrs, AttrCustomer.String(r.Customer))
	}
	if r.Upstream != nil {
		attrs = append(attrs, AttrUpstream.String(r.Upstream.Name))
	}
	if o.TimeToFirstToken > 0 {
		attrs = append(attrs, AttrTTFT.Float64(float64(o.TimeToFirstToken.Microseconds())/1000))
	}
	span.SetAttributes(attrs...)
	if o.Err != nil {
		e := core.AsError(o.Err)
		span.SetAttributes(AttrErrorType.String(e.Kind.String()))
		span.SetStatus(codes.Error, e.Error())
	}
	span.End(trace.WithTimestamp(r.Received.Add(o.Latency)))
}

// InjectHeader writes the trace context of ctx's span into an upstream
// request's header.
func (t *Tracer) InjectHeader(ctx context.Context, h http.Header) {
	t.prop.Inject(ctx, propagation.HeaderCarrier(h))
}

// WrapStage gives the stage a span per call. The call stage's span is a
// client span named like the call, with the upstream's address: it is the
// parent the upstream sees in traceparent.
func (t *Tracer) WrapStage(spec pipeline.Spec, stage core.Stage) core.Stage {
	isCall := spec.Kind == pipeline.KindBuiltin && pipeline.BuiltinName(spec.Name) == "call"
	return &tracedStage{t: t, stage: stage, name: "stage " + spec.Name, stageName: spec.Name, call: isCall}
}

type tracedStage struct {
	t         *Tracer
	stage     core.Stage
	name      string
	stageName string
	call      bool
}

func (s *tracedStage) Handle(ctx context.Context, req *core.Request, next core.HandlerFunc) (*core.Response, error) {
	name, kind := s.name, trace.SpanKindInternal
	attrs := []attribute.KeyValue{AttrStage.String(s.stageName)}
	if s.call {
		name, kind = spanName(req), trace.SpanKindClient
		attrs = append(attrs, requestAttrs(req)...)
		if req.Upstream != nil {
			attrs = append(attrs, AttrUpstream.String(req.Upstream.Name))
			if req.Upstream.BaseURL != nil {
				attrs = append(attrs, AttrServerAddr.String(req.Upstream.BaseURL.Hostname()))
			}
		}
	}
	ctx, span := s.t.tracer.Start(ctx, name, trace.WithSpanKind(kind), trace.WithAttributes(attrs...))
	resp, err := s.stage.Handle(ctx, req, next)
	switch {
	case err != nil:
		e := core.AsError(err)
		span.SetAttributes(AttrErrorType.String(e.Kind.String()))
		if e.HTTPStatus() > 0 {
			span.SetAttributes(AttrHTTPStatus.Int(e.HTTPStatus()))
		}
		span.SetStatus(codes.Error, e.Error())
	case resp != nil && s.call:
		span.SetAttributes(AttrHTTPStatus.Int(resp.Status))
		if resp.UsageKnown {
			span.SetAttributes(AttrInputTokens.Int64(resp.Usage.InputTokens), AttrOutputTokens.Int64(resp.Usage.OutputTokens))
		}
	}
	span.End()
	return resp, err
}

// requestAttrs are the GenAI attributes of a call.
func requestAttrs(req *core.Request) []attribute.KeyValue {
	attrs := make([]attribute.KeyValue, 0, 6)
	if req.Format != nil {
		sys := system(req.Format.Name())
		attrs = append(attrs, AttrSystem.String(sys), AttrProviderName.String(sys))
	}
	attrs = append(attrs, AttrOperation.String(operation(req.Operation)), AttrCallID.String(req.ID), AttrStream.Bool(req.Stream))
	if req.Model != "" {
		attrs = append(attrs, AttrRequestModel.String(req.Model))
	}
	return attrs
}

// spanName follows the GenAI convention: "{operation} {model}".
func spanName(req *core.Request) string {
	op := operation(req.Operation)
	if req.Model == "" {
		return op
	}
	return op + " " + req.Model
}

// system maps a wire format to its gen_ai.system value.
func system(format string) string {
	if format == "gemini" {
		return "gcp.gemini"
	}
	return format
}

// operation maps a tollgate operation to gen_ai.operation.name.
func operation(op string) string {
	switch {
	case strings.Contains(op, "embed"):
		return "embeddings"
	case strings.Contains(op, "chat"), strings.Contains(op, "messages"), strings.Contains(op, "responses"):
		return "chat"
	case strings.Contains(strings.ToLower(op), "generatecontent"), strings.Contains(op, "generate_content"):
		return "generate_content"
	case strings.HasPrefix(op, "completions"):
		return "text_completion"
	case op == "":
		return "call"
	}
	return op
}

var (
	_ core.Observer       = (*Tracer)(nil)
	_ core.HeaderInjector = (*Tracer)(nil)
	_ pipeline.Instrument = (*Tracer)(nil)
)
