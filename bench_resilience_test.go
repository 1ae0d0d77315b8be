package tollgate_test

import (
	"bytes"
	"context"
	"github.com/tollgate-dev/tollgate/internal/benchcpu"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/pipeline"
	"github.com/tollgate-dev/tollgate/plugins/builtin"
	"github.com/tollgate-dev/tollgate/providers/openai"
)

func init() {
	// benchcall is the call stage over the in-memory upstream.
	pipeline.RegisterBuiltin("benchcall", func(pipeline.Spec, pipeline.Env) (any, error) {
		return builtin.NewCall(builtin.DefaultCallConfig(), inMemory{newCanned()}), nil
	})
}

// newSpecEngine builds an engine from pipeline entries (before benchcall
// and track) over the in-memory upstream.
func newSpecEngine(b *testing.B, stages ...pipeline.Spec) *core.Engine {
	base, _ := url.Parse("http://upstream/v1")
	up := core.NewUpstream("openai", "openai", base, "sk-bench", "OPENAI_API_KEY")
	backup := core.NewUpstream("backup", "openai", base, "sk-bench", "OPENAI_API_KEY")
	dir := b.TempDir()
	specs := append(stages,
		pipeline.Spec{Name: "benchcall", Kind: "builtin"},
		pipeline.Spec{Name: "track", Kind: "builtin", Config: map[string]any{
			"sinks": []any{map[string]any{"type": "jsonl", "path": filepath.Join(dir, "usage.jsonl")}}}})
	for i := range specs {
		specs[i].Index = i
	}
	p, err := pipeline.Build(specs, pipeline.Env{Log: slog.New(slog.DiscardHandler), DataDir: dir,
		Upstreams: map[string]*core.Upstream{"openai": up, "backup": backup}})
	if err != nil {
		b.Fatal(err)
	}
	eng := core.New(core.WithPipeline(p), core.WithFormats(openai.New()), core.WithUpstream(up), core.WithUpstream(backup))
	b.Cleanup(func() { eng.Close(context.Background()) })
	return eng
}

// resilientStages are every resilience and cost stage, in the recommended
// order, as the short config forms set them.
var resilientStages = []pipeline.Spec{
	{Name: "validate", Kind: "builtin"},
	{Name: "ratelimit", Kind: "builtin", Config: map[string]any{"requests_per_minute": 1e12, "tokens_per_minute": 1e15}},
	{Name: "cache", Kind: "builtin", Config: map[string]any{"ttl": "5m", "max_bytes": 8 << 20}},
	{Name: "fallback", Kind: "builtin", Config: map[string]any{"targets": []any{"backup"}}},
	{Name: "retry", Kind: "builtin", Config: map[string]any{"max_attempts": 3}},
	{Name: "breaker", Kind: "builtin"},
}

// runUnique sends calls whose bodies all differ (so the cache always
// misses), through h. The bodies are made before the timer starts, as in
// runChain: making a 1 KB body is the client's cost, not the gateway's.
// Past the first round of bodies another customer keeps every call a miss.
func runUnique(b *testing.B, h http.Handler) {
	bodies := uniqueBodies()
	customer := "acme"
	b.ReportAllocs()
	defer benchcpu.Start(b)()
	i := 0
	for b.Loop() {
		if i > 0 && i%len(bodies) == 0 {
			customer = "acme-" + strconv.Itoa(i/len(bodies))
		}
		serveChat(b, h, bytes.NewReader(bodies[i%len(bodies)]), customer, "")
		i++
	}
}

// uniqueBodies are 4096 chat requests that differ in their prompt.
func uniqueBodies() [][]byte {
	bodies := make([][]byte, 4096)
	for i := range bodies {
		bodies[i] = []byte(strings.Replace(benchBody, "Tell me", "Tell "+strconv.Itoa(i), 1))
	}
	return bodies
}

// BenchmarkResilienceBaseline is validate, call and track with bodies that
// all differ: the base BenchmarkResilientPipelineMiss is compared with.
func BenchmarkResilienceBaseline(b *testing.B) {
	runUnique(b, newSpecEngine(b, pipeline.Spec{Name: "validate", Kind: "builtin"}).Handler())
}

// BenchmarkResilientPipelineMiss adds ratelimit (memory), cache (memory,
// every call a miss that is stored), fallback, retry and breaker.
func BenchmarkResilientPipelineMiss(b *testing.B) {
	stages := make([]pipeline.Spec, len(resilientStages))
	copy(stages, resilientStages)
	runUnique(b, newSpecEngine(b, stages...).Handler())
}

// BenchmarkResilientPipelineHit is the same pipeline answering from the
// cache, through the HTTP handler.
func BenchmarkResilientPipelineHit(b *testing.B) {
	stages := make([]pipeline.Spec, len(resilientStages))
	copy(stages, resilientStages)
	h := newSpecEngine(b, stages...).Handler()
	b.ReportAllocs()
	defer benchcpu.Start(b)()
	for b.Loop() {
		serveChat(b, h, strings.NewReader(benchBody), "acme", "")
	}
}

// stageChain compiles the stages of entries (built from the registry) over
// a terminal that answers at once, with no HTTP, upstream or tracking: what
// the stages themselves cost.
func stageChain(b *testing.B, entries []pipeline.Spec) core.HandlerFunc {
	base, _ := url.Parse("http://upstream/v1")
	env := pipeline.Env{Log: slog.New(slog.DiscardHandler), Upstreams: map[string]*core.Upstream{
		"backup": core.NewUpstream("backup", "openai", base, "", "")}}
	var stages []core.Stage
	for i, s := range entries {
		s.Index = i
		p, err := pipeline.Build([]pipeline.Spec{s}, env)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { p.Close(context.Background()) })
		stages = append(stages, p.Parts()[0].Value.(core.Stage))
	}
	answer := []byte(`{"id":"x","choices":[{"message":{"role":"assistant","content":"ok"}}],"usage":{"prompt_tokens":180,"completion_tokens":2,"total_tokens":182}}`)
	return core.Chain(stages, func(context.Context, *core.Request) (*core.Response, error) {
		return &core.Response{Status: 200, Header: http.Header{}, Body: answer,
			Usage: core.Usage{InputTokens: 180, OutputTokens: 2}, UsageKnown: true}, nil
	})
}

// runChain sends parsed calls with distinct bodies (every one a cache miss)
// through h.
func runChain(b *testing.B, h core.HandlerFunc) {
	f := openai.New()
	up := core.NewUpstream("openai", "openai", nil, "", "")
	bodies := uniqueBodies()
	ctx := context.Background()
	b.ReportAllocs()
	defer benchcpu.Start(b)()
	i := 0
	for b.Loop() {
		i++
		req := &core.Request{ID: "r", Method: http.MethodPost, Path: "/v1/chat/completions", Format: f,
			Operation: "chat.completions", Body: bodies[i%len(bodies)], Header: http.Header{}, Customer: "acme", Upstream: up}
		if i >= len(bodies) { // past the first round, keep missing: another customer
			req.Customer = "acme-" + strconv.Itoa(i/len(bodies))
		}
		f.Parse(req)
		if _, err := h(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStagesNone is runChain's own cost (making and parsing requests).
func BenchmarkStagesNone(b *testing.B) { runChain(b, stageChain(b, nil)) }

// BenchmarkStagesResilientMiss is ratelimit, cache (a miss, stored),
// fallback, retry and breaker over an answer from memory: subtract
// BenchmarkStagesNone for what they add to a call.
func BenchmarkStagesResilientMiss(b *testing.B) {
	runChain(b, stageChain(b, resilientStages[1:]))
}
