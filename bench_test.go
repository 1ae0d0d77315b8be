package tollgate_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/internal/benchcpu"
	"github.com/tollgate-dev/tollgate/plugins/builtin"
	"github.com/tollgate-dev/tollgate/providers/openai"
	"github.com/tollgate-dev/tollgate/providers/providertest"
)

// inMemory is a RoundTripper that serves requests with a handler, no sockets:
// it isolates the gateway's own cost from the network's.
type inMemory struct{ h http.Handler }

func (m inMemory) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	m.h.ServeHTTP(rec, r)
	return rec.Result(), nil
}

// canned is an upstream that answers from memory, so that benchmarks
// measure tollgate rather than the fake provider's own JSON work.
type canned struct{ body, stream []byte }

func newCanned() canned {
	up := providertest.NewHandler()
	get := func(body string) []byte {
		rec := httptest.NewRecorder()
		up.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/v1/chat/completions", strings.NewReader(body)))
		return rec.Body.Bytes()
	}
	return canned{body: get(benchBody), stream: get(strings.Replace(benchBody, `"temperature"`, `"stream":true,"stream_options":{"include_usage":true},"temperature"`, 1))}
}

func (c canned) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	if strings.Contains(r.Header.Get("Accept"), "event-stream") || r.Header.Get("X-Stream") != "" {
		w.Header()["Content-Type"] = []string{"text/event-stream"}
		w.Write(c.stream)
		return
	}
	w.Header()["Content-Type"] = []string{"application/json"}
	w.Header()["Content-Length"] = []string{strconv.Itoa(len(c.body))}
	w.Write(c.body)
}

// serveChat sends h a chat call with body for customer, with a bearer
// token unless it is "", and fails b unless it is answered 200.
func serveChat(b *testing.B, h http.Handler, body io.Reader, customer, bearer string) {
	req, _ := http.NewRequest(http.MethodPost, "/v1/chat/completions", body)
	req.Header.Set("X-Tollgate-Customer", customer)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	w := &discard{header: http.Header{}}
	h.ServeHTTP(w, req)
	if w.code != 200 {
		b.Fatalf("status %d", w.code)
	}
}

// discard is the client side of a benchmark: a ResponseWriter that drops
// the body, as a socket write would cost next to nothing here.
type discard struct {
	header http.Header
	code   int
}

func (d *discard) Header() http.Header         { return d.header }
func (d *discard) WriteHeader(code int)        { d.code = code }
func (d *discard) Write(p []byte) (int, error) { return len(p), nil }
func (d *discard) Flush()                      {}

// benchBody is a typical ~1 KB chat request.
var benchBody = `{"model":"gpt-4o-mini","temperature":0.2,"messages":[{"role":"system","content":"You are a helpful assistant that answers briefly and precisely."},{"role":"user","content":"` +
	strings.Repeat("Tell me about the gateway. ", 30) + `"}]}`

// BenchmarkUpstreamDirect is the baseline: the in-memory upstream called
// straight, as a client without tollgate would.
func BenchmarkUpstreamDirect(b *testing.B) {
	up := inMemory{newCanned()}
	b.ReportAllocs()
	for b.Loop() {
		req, _ := http.NewRequest(http.MethodPost, "http://upstream/v1/chat/completions", strings.NewReader(benchBody))
		req.Header.Set("Authorization", "Bearer sk-bench")
		resp, _ := up.RoundTrip(req)
		io.Copy(io.Discard, resp.Body)
	}
}

// newBenchEngine is the default pipeline (validate, call, track) over the
// in-memory upstream, tracking to a discarding sink.
func newBenchEngine(b *testing.B, between ...core.Stage) *core.Engine {
	return newBenchEngineOver(b, newCanned(), between...)
}

// newBenchEngineOver is newBenchEngine over the upstream h.
func newBenchEngineOver(b *testing.B, h http.Handler, between ...core.Stage) *core.Engine {
	up := inMemory{h}
	base, _ := url.Parse("http://upstream/v1")
	track := builtin.NewTrack([]core.Sink{builtin.NewWriterSink(io.Discard)}, []string{"discard"}, 256, nil)
	validate, _ := builtin.NewValidate(builtin.ValidateConfig{MaxBodyBytes: 1 << 20})
	stages := append(append([]core.Stage{validate}, between...), builtin.NewCall(builtin.DefaultCallConfig(), up))
	p := core.NewPipeline(stages, []core.Completer{track}, track.Close)
	eng := core.New(core.WithPipeline(p), core.WithFormats(openai.New()),
		core.WithUpstream(core.NewUpstream("openai", "openai", base, "sk-bench", "OPENAI_API_KEY")))
	b.Cleanup(func() { eng.Close(context.Background()) })
	return eng
}

// BenchmarkPipeline is the same call through the engine's HTTP handler:
// ingress, validate, call, track. Its difference from BenchmarkUpstreamDirect
// is what tollgate adds.
func BenchmarkPipeline(b *testing.B) {
	h := newBenchEngine(b).Handler()
	b.ReportAllocs()
	for b.Loop() {
		serveChat(b, h, strings.NewReader(benchBody), "acme", "")
	}
}

// BenchmarkPipelineNoUsage is BenchmarkPipeline with an answer that has no
// usage to read (a model that omits it; an error inside a 200): the path
// where each reader of the answer's usage would scan the body again, had
// the first not kept what it found.
func BenchmarkPipelineNoUsage(b *testing.B) {
	c := newCanned()
	i := bytes.Index(c.body, []byte(`"usage":`))
	j := bytes.Index(c.body, []byte(`"service_tier"`))
	if i < 0 || j < i {
		b.Fatalf("the canned answer has no usage to take out: %s", c.body)
	}
	c.body = append(c.body[:i:i], c.body[j:]...)
	h := newBenchEngineOver(b, c).Handler()
	b.ReportAllocs()
	for b.Loop() {
		serveChat(b, h, strings.NewReader(benchBody), "acme", "")
	}
}

// BenchmarkPipelineStream is a streamed call through the handler.
func BenchmarkPipelineStream(b *testing.B) {
	benchStream(b, newBenchEngine(b).Handler())
}

// benchStream makes streamed calls through h.
func benchStream(b *testing.B, h http.Handler) {
	body := strings.Replace(benchBody, `"temperature"`, `"stream":true,"temperature"`, 1)
	b.ReportAllocs()
	defer benchcpu.Start(b)()
	for b.Loop() {
		req, _ := http.NewRequest(http.MethodPost, "/v1/chat/completions", strings.NewReader(body))
		req.Header.Set("X-Stream", "1")
		w := &discard{header: http.Header{}}
		h.ServeHTTP(w, req)
		if w.code != 200 {
			b.Fatalf("status %d", w.code)
		}
	}
}

// BenchmarkPipelineStreamWrapped is BenchmarkPipelineStream with a stage
// between validate and call that wraps the stream and passes each event on,
// as a plugin's stream_event hook that changes nothing does without the
// plugin's own cost: what the engine pays for a stream that a stage wraps.
func BenchmarkPipelineStreamWrapped(b *testing.B) {
	pass := core.StageFunc(func(ctx context.Context, req *core.Request, next core.HandlerFunc) (*core.Response, error) {
		resp, err := next(ctx, req)
		if err == nil && resp.Stream != nil {
			resp.Stream = passStream{resp.Stream}
		}
		return resp, err
	})
	benchStream(b, newBenchEngine(b, pass).Handler())
}

// passStream passes a stream's events on unchanged.
type passStream struct{ core.Stream }
