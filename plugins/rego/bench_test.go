package rego

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
	"github.com/tidwall/gjson"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/internal/benchcpu"
	"github.com/tollgate-dev/tollgate/pipeline"
	"github.com/tollgate-dev/tollgate/providers/openai"
)

// benchBody is a typical chat call: a system prompt and two turns.
const benchBody = `{"model":"gpt-4o-mini","max_tokens":5120,"temperature":0.2,"user":"u-42",` +
	`"messages":[{"role":"system","content":"You are a helpful assistant for Acme Corp. Answer briefly and cite the knowledge base."},` +
	`{"role":"user","content":"How do I reset my password on the Acme portal? I tried the link in the email but it expired."},` +
	`{"role":"assistant","content":"Open Settings, then Security, and choose Reset password. A new link is valid for 30 minutes."},` +
	`{"role":"user","content":"Thanks. And can I change the email address my account uses as well?"}]}`

// benchConfig turns on every shipped request guardrail.
var benchConfig = map[string]any{
	"paths": []any{"../../policies/guardrails"},
	"data": map[string]any{"tollgate": map[string]any{"config": map[string]any{
		"models":     map[string]any{"default": []any{"gpt-4o-mini", "gpt-4o", "claude-*"}, "customers": map[string]any{"acme": []any{"gpt-4o*"}}},
		"max_tokens": map[string]any{"default": 4096, "customers": map[string]any{"acme": 1024}},
		"budgets":    map[string]any{"default": map[string]any{"daily_tokens": 1000000, "monthly_cost_usd": 500}},
	}}},
	"reload": false, "eval_timeout": "10s",
}

type fixedSpend struct{}

func (fixedSpend) Spend(context.Context, string, time.Time) (core.UsageTotals, core.UsageTotals, error) {
	return core.UsageTotals{Requests: 10, TotalTokens: 12345, Cost: 3 * core.Dollar / 100},
		core.UsageTotals{Requests: 100, TotalTokens: 123456, Cost: 42 * core.Dollar / 100}, nil
}

func benchStage(b testing.TB, cfg map[string]any) *Stage {
	b.Helper()
	s, err := New("guardrails", decodeConfig(b, cfg), "", pipeline.Env{Log: slog.New(slog.DiscardHandler), Spend: fixedSpend{}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close(context.Background()) })
	return s
}

func decodeConfig(tb testing.TB, m map[string]any) Config {
	tb.Helper()
	var c Config
	raw, _ := json.Marshal(m)
	if err := json.Unmarshal(raw, &c); err != nil {
		tb.Fatal(err)
	}
	return c
}

func chatRequest(body string) *core.Request {
	f := openai.New()
	req := &core.Request{ID: "req-1", Format: f, Operation: "chat.completions", Method: "POST", Path: "/v1/chat/completions",
		Body: []byte(body), Customer: "acme", Metadata: map[string]string{"team": "support"}}
	f.Parse(req)
	return req
}

var okResponse = &core.Response{Status: 200}

func answer(context.Context, *core.Request) (*core.Response, error) { return okResponse, nil }

// BenchmarkStage is the rego stage with the shipped request guardrails
// (models, max_tokens, PII, prompt injection, budgets) on a four-message
// chat call: input built from the request, one evaluation, the max_tokens
// patch applied to the raw body.
func BenchmarkStage(b *testing.B) {
	s := benchStage(b, benchConfig)
	ctx := context.Background()
	body := []byte(benchBody)
	req := chatRequest(benchBody)
	b.ReportAllocs()
	defer benchcpu.Start(b)()
	for b.Loop() {
		req.Body = body
		if _, err := s.Handle(ctx, req, answer); err != nil {
			b.Fatal(err)
		}
	}
}

// naivePrepared prepares the shipped guardrails the plain way: modules
// read from disk, the config data in a default in-memory store.
func naivePrepared(b *testing.B) rego.PreparedEvalQuery {
	b.Helper()
	cfg := decodeConfig(b, benchConfig)
	opts := append(builtinOptions(), rego.Query("data.tollgate.request"), rego.Store(inmem.NewFromObject(cfg.Data)))
	files, _ := filepath.Glob(filepath.Join(cfg.Paths[0], "*.rego"))
	for _, f := range files {
		if strings.HasSuffix(f, "_test.rego") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			b.Fatal(err)
		}
		opts = append(opts, rego.Module(f, string(src)))
	}
	pq, err := rego.New(opts...).PrepareForEval(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	return pq
}

// BenchmarkNaive is the starting point the stage is measured against: the
// same policies and call through a prepared query, the input built as a Go
// map (the body decoded with encoding/json, the texts with gjson) and
// handed to rego.EvalInput, the result read as Go values.
func BenchmarkNaive(b *testing.B) {
	ctx := context.Background()
	pq := naivePrepared(b)
	req := chatRequest(benchBody)
	spend := fixedSpend{}
	b.ReportAllocs()
	defer benchcpu.Start(b)()
	for b.Loop() {
		var body map[string]any
		if err := json.Unmarshal(req.Body, &body); err != nil {
			b.Fatal(err)
		}
		var texts []any
		for i, m := range gjson.GetBytes(req.Body, "messages").Array() {
			texts = append(texts, map[string]any{"path": "messages." + itoa(i) + ".content", "role": m.Get("role").Str, "text": m.Get("content").Str})
		}
		day, month, _ := spend.Spend(ctx, req.Customer, time.Now())
		input := map[string]any{
			"phase": "request",
			"request": map[string]any{"id": req.ID, "provider": "openai", "operation": req.Operation, "model": req.Model,
				"stream": req.Stream, "path": req.Path, "upstream": "", "body": body, "texts": texts},
			"customer": req.Customer, "metadata": map[string]any{"team": "support"}, "headers": map[string]any{},
			"usage": map[string]any{"day": totalsMap(day), "month": totalsMap(month)},
		}
		rs, err := pq.Eval(ctx, rego.EvalInput(input))
		if err != nil || len(rs) != 1 {
			b.Fatal(err)
		}
		d := rs[0].Expressions[0].Value.(map[string]any)
		if len(d["deny"].([]any)) != 0 {
			b.Fatal(d["deny"])
		}
	}
}

func totalsMap(t core.UsageTotals) map[string]any {
	return map[string]any{"requests": t.Requests, "input_tokens": t.InputTokens, "output_tokens": t.OutputTokens,
		"total_tokens": t.TotalTokens, "cost_usd": json.Number(t.Cost.String())}
}

func itoa(i int) string { return string(rune('0' + i)) }

// BenchmarkStageTrivial is the stage's fixed cost: a one-rule policy.
func BenchmarkStageTrivial(b *testing.B) {
	dir := b.TempDir()
	os.WriteFile(filepath.Join(dir, "p.rego"), []byte("package tollgate.request\n\ndeny contains \"no\" if input.request.model == \"forbidden\"\n"), 0o600)
	s := benchStage(b, map[string]any{"paths": []any{dir}, "reload": false, "decision_cache": false})
	ctx := context.Background()
	req := chatRequest(benchBody)
	b.ReportAllocs()
	defer benchcpu.Start(b)()
	for b.Loop() {
		if _, err := s.Handle(ctx, req, answer); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkResponseEvent is the cost event mode adds to each stream event
// that carries text: the answer guardrail (output PII) checked on the
// window of text so far.
func BenchmarkResponseEvent(b *testing.B) {
	s := benchStage(b, map[string]any{"paths": []any{"../../policies/guardrails"}, "phase": "response", "reload": false})
	ctx := context.Background()
	ev := &core.Event{Data: []byte(`{"id":"c1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Paris is the capital "}}]}`)}
	ev.Raw = append(append([]byte("data: "), ev.Data...), "\n\n"...)
	inner := core.StreamFunc{NextFunc: func() (*core.Event, error) { return ev, nil }}
	req := chatRequest(strings.Replace(benchBody, `"model"`, `"stream":true,"model"`, 1))
	resp, err := s.Handle(ctx, req, func(context.Context, *core.Request) (*core.Response, error) {
		return &core.Response{Status: 200, Stream: inner}, nil
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	defer benchcpu.Start(b)()
	for b.Loop() {
		if _, err := resp.Stream.Next(); err != nil {
			b.Fatal(err)
		}
	}
}
