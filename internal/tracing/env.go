package tracing

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Enabled reports whether the environment turns tracing on, per the
// OpenTelemetry SDK variables: OTEL_SDK_DISABLED=true or
// OTEL_TRACES_EXPORTER=none turn it off; any other OTEL_TRACES_EXPORTER
// (FromEnv takes only otlp), or an OTEL_EXPORTER_OTLP_ENDPOINT or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, turn it on. Nothing set: off.
func Enabled(getenv func(string) string) bool {
	if strings.EqualFold(getenv("OTEL_SDK_DISABLED"), "true") {
		return false
	}
	if exporter := strings.ToLower(strings.TrimSpace(getenv("OTEL_TRACES_EXPORTER"))); exporter != "" {
		return exporter != "none" // otlp, or one FromEnv refuses rather than leave tracing off unsaid
	}
	return getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
}

// FromEnv returns a tracer configured by the standard OTEL_* variables, or
// nil when they leave tracing off (see [Enabled]). It exports over OTLP:
// http/protobuf by default, grpc when OTEL_EXPORTER_OTLP_TRACES_PROTOCOL or
// OTEL_EXPORTER_OTLP_PROTOCOL says so; the exporters read the endpoint,
// headers, timeout, TLS and compression variables themselves. The SDK
// reads OTEL_TRACES_SAMPLER(_ARG) and OTEL_BSP_*; the resource reads
// OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES (service.name defaults to
// tollgate).
func FromEnv(ctx context.Context, version string) (*Tracer, error) {
	if !Enabled(os.Getenv) {
		return nil, nil
	}
	proto, err := checkEnv()
	if err != nil {
		return nil, err
	}
	var exp sdktrace.SpanExporter
	if proto == "grpc" {
		exp, err = otlptracegrpc.New(ctx)
	} else {
		exp, err = otlptracehttp.New(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("tracing: %w", err)
	}
	res, err := resource.Merge(
		resource.NewSchemaless(attribute.String("service.name", "tollgate"), attribute.String("service.version", version)),
		resource.Environment())
	if err != nil {
		res = resource.Default()
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	return New(tp, tp.Shutdown), nil
}

// CheckEnv reports what FromEnv would refuse in the OTEL_* variables (an
// exporter other than otlp, an endpoint that is not an http or https URL,
// a protocol other than http/protobuf or grpc) without building anything:
// `tollgate validate` asks it.
func CheckEnv() error {
	if !Enabled(os.Getenv) {
		return nil
	}
	_, err := checkEnv()
	return err
}

// checkEnv checks the variables FromEnv reads and returns the protocol.
func checkEnv() (proto string, err error) {
	if v := strings.ToLower(os.Getenv("OTEL_TRACES_EXPORTER")); v != "" && v != "otlp" {
		return "", fmt.Errorf("tracing: OTEL_TRACES_EXPORTER=%q is not supported: use otlp or none", v)
	}
	for _, name := range []string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"} {
		// the exporters would log a bad one through the SDK's own logger
		// and export nothing
		if v := os.Getenv(name); v != "" {
			if u, err := url.Parse(v); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return "", fmt.Errorf("tracing: %s=%q is not a URL like http://collector:4318 (http or https, and a host)", name, v)
			}
		}
	}
	name := "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"
	if proto = os.Getenv(name); proto == "" {
		name = "OTEL_EXPORTER_OTLP_PROTOCOL"
		proto = os.Getenv(name)
	}
	if proto != "" && proto != "http/protobuf" && proto != "grpc" {
		return "", fmt.Errorf("tracing: %s=%q is not supported: use http/protobuf or grpc", name, proto)
	}
	return proto, nil
}
