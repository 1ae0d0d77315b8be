package tracing_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/internal/tracing"
	"github.com/tollgate-dev/tollgate/pipeline"
	_ "github.com/tollgate-dev/tollgate/plugins/builtin"
	"github.com/tollgate-dev/tollgate/providers/openai"
	"github.com/tollgate-dev/tollgate/providers/providertest"
)

// gateway runs an engine with validate and call, traced, over a fake OpenAI.
func gateway(t *testing.T) (*httptest.Server, *providertest.Server, *tracetest.SpanRecorder) {
	t.Helper()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	tr := tracing.New(tp, tp.Shutdown)
	up := providertest.NewServer(t)
	base, _ := url.Parse(up.URL + "/v1")
	u := core.NewUpstream("openai", "openai", base, "sk-test-key", "OPENAI_API_KEY")
	p, err := pipeline.Build([]pipeline.Spec{{Name: "validate", Kind: "builtin"}, {Name: "call", Kind: "builtin"}},
		pipeline.Env{Log: slog.New(slog.DiscardHandler), Upstreams: map[string]*core.Upstream{"openai": u}, Instrument: tr})
	if err != nil {
		t.Fatal(err)
	}
	eng := core.New(core.WithPipeline(p), core.WithFormats(openai.New()), core.WithUpstream(u), core.WithObserver(tr),
		core.WithLogger(slog.New(slog.DiscardHandler)))
	srv := httptest.NewServer(eng.Handler())
	t.Cleanup(func() { srv.Close(); eng.Close(context.Background()) })
	return srv, up, rec
}

func post(t *testing.T, url, body string, header map[string]string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func attrs(s sdktrace.ReadOnlySpan) map[string]string {
	m := map[string]string{}
	for _, a := range s.Attributes() {
		m[string(a.Key)] = a.Value.Emit()
	}
	return m
}

func TestSpansPerCallAndStageWithGenAIAttributes(t *testing.T) {
	srv, up, rec := gateway(t)
	const parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	for _, stream := range []string{"false", "true"} {
		code := post(t, srv.URL+"/v1/chat/completions",
			`{"model":"gpt-4o-mini","stream":`+stream+`,"messages":[{"role":"user","content":"hello there"}]}`,
			map[string]string{"Traceparent": parent, "X-Tollgate-Customer": "acme"})
		if code != 200 {
			t.Fatalf("status %d", code)
		}
	}
	spans := rec.Ended()
	byName := map[string][]sdktrace.ReadOnlySpan{}
	for _, s := range spans {
		byName[s.Name()] = append(byName[s.Name()], s)
	}
	if len(byName["stage validate"]) != 2 {
		t.Fatalf("spans: %v", names(spans))
	}
	var calls, servers []sdktrace.ReadOnlySpan
	for _, s := range byName["chat gpt-4o-mini"] {
		switch s.SpanKind() {
		case trace.SpanKindClient:
			calls = append(calls, s)
		case trace.SpanKindServer:
			servers = append(servers, s)
		}
	}
	if len(calls) != 2 || len(servers) != 2 {
		t.Fatalf("want 2 call and 2 server spans, got %v", names(spans))
	}
	for _, s := range servers {
		a := attrs(s)
		if a["gen_ai.system"] != "openai" || a["gen_ai.request.model"] != "gpt-4o-mini" || a["gen_ai.operation.name"] != "chat" ||
			a["gen_ai.usage.input_tokens"] == "0" || a["gen_ai.usage.output_tokens"] == "0" || a["tollgate.customer"] != "acme" {
			t.Errorf("server span attributes %v", a)
		}
		if s.Parent().TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" {
			t.Errorf("the call span is not in the client's trace: parent %v", s.Parent())
		}
	}
	// The upstream saw the call span as its parent, in the client's trace.
	reqs := up.Requests()
	if len(reqs) != 2 {
		t.Fatalf("%d upstream requests", len(reqs))
	}
	for i, r := range reqs {
		tp := r.Header.Get("Traceparent")
		want := "00-4bf92f3577b34da6a3ce929d0e0e4736-" + calls[i].SpanContext().SpanID().String() + "-01"
		if tp != want {
			t.Errorf("upstream traceparent %q, want %q", tp, want)
		}
	}
}

func TestRefusedCallsGetASpanToo(t *testing.T) {
	srv, _, rec := gateway(t)
	if code := post(t, srv.URL+"/v1/chat/completions", `{"model":`, nil); code != 400 {
		t.Fatalf("status %d", code)
	}
	spans := rec.Ended()
	var found bool
	for _, s := range spans {
		if s.SpanKind() == trace.SpanKindServer {
			found = true
			if s.Status().Code.String() != "Error" || attrs(s)["tollgate.status"] != core.StatusInvalid {
				t.Errorf("span %s status %v attrs %v", s.Name(), s.Status(), attrs(s))
			}
		}
	}
	if !found {
		t.Fatalf("no server span: %v", names(spans))
	}
}

func TestEnabled(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want bool
	}{
		{"nothing set", nil, false},
		{"endpoint", map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}, true},
		{"traces endpoint", map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://127.0.0.1:4318/v1/traces"}, true},
		{"exporter otlp", map[string]string{"OTEL_TRACES_EXPORTER": "otlp"}, true},
		{"exporter none", map[string]string{"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://x"}, false},
		{"sdk disabled", map[string]string{"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"}, false},
		{"an exporter FromEnv refuses", map[string]string{"OTEL_TRACES_EXPORTER": "zipkin"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tracing.Enabled(func(k string) string { return tt.env[k] }); got != tt.want {
				t.Errorf("Enabled = %v", got)
			}
		})
	}
}

func names(spans []sdktrace.ReadOnlySpan) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name()+"/"+s.SpanKind().String())
	}
	return out
}

// TestFromEnvRefusesWhatWouldExportNothing: an exporter or endpoint the
// gateway cannot use is an error naming the variable, not tracing that is
// on and goes nowhere.
func TestFromEnvRefusesWhatWouldExportNothing(t *testing.T) {
	tests := map[string]struct {
		env  map[string]string
		want string
	}{
		"another exporter": {map[string]string{"OTEL_TRACES_EXPORTER": "zipkin"},
			`tracing: OTEL_TRACES_EXPORTER="zipkin" is not supported: use otlp or none`},
		"an endpoint that is not a URL": {map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "::bad url"},
			`tracing: OTEL_EXPORTER_OTLP_ENDPOINT="::bad url" is not a URL like http://collector:4318 (http or https, and a host)`},
		"an endpoint without a scheme": {map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "collector:4317"},
			`tracing: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT="collector:4317" is not a URL`},
		"another protocol": {map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"},
			`tracing: OTEL_EXPORTER_OTLP_PROTOCOL="http/json" is not supported`},
		"another traces protocol": {map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "thrift"},
			`tracing: OTEL_EXPORTER_OTLP_TRACES_PROTOCOL="thrift" is not supported: use http/protobuf or grpc`},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			for _, k := range []string{"OTEL_SDK_DISABLED", "OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT",
				"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"} {
				t.Setenv(k, tt.env[k])
			}
			tr, err := tracing.FromEnv(context.Background(), "test")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("FromEnv = %v, %v; want an error with %s", tr, err, tt.want)
			}
			if err := tracing.CheckEnv(); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("CheckEnv = %v; want an error with %s", err, tt.want)
			}
		})
	}
}
