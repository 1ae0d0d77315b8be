package rego

import (
	"context"
	"maps"
	"testing"

	"github.com/tollgate-dev/tollgate/internal/benchcpu"
)

// BenchmarkGuardrail measures each shipped request guardrail alone: input
// built, the guardrail's package evaluated (the decision cache off, so that
// every call is evaluated), its decision applied.
func BenchmarkGuardrail(b *testing.B) {
	for _, q := range []string{"models", "max_tokens", "pii", "injection", "budgets"} {
		b.Run(q, func(b *testing.B) { benchGuardrail(b, q, false) })
	}
}

// BenchmarkGuardrailCached is BenchmarkGuardrail with the decision cache
// on (the default), the same call repeated: the guardrails whose decision
// depends only on small fields (models, max_tokens) are answered from the
// cache after the first call; the others are evaluated as above.
func BenchmarkGuardrailCached(b *testing.B) {
	for _, q := range []string{"models", "max_tokens"} {
		b.Run(q, func(b *testing.B) { benchGuardrail(b, q, true) })
	}
}

func benchGuardrail(b *testing.B, q string, cache bool) {
	cfg := maps.Clone(benchConfig)
	cfg["query"] = "data.tollgate.guardrails." + q
	cfg["decision_cache"] = cache
	s := benchStage(b, cfg)
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

// BenchmarkInput is building the input document alone (body, texts, usage).
func BenchmarkInput(b *testing.B) {
	s := benchStage(b, benchConfig)
	p := s.cur.Load()
	ctx := context.Background()
	req := chatRequest(benchBody)
	b.ReportAllocs()
	defer benchcpu.Start(b)()
	for b.Loop() {
		items, err := s.requestItems(ctx, req, p.needs, nil)
		if err != nil {
			b.Fatal(err)
		}
		_ = withPhase(items, phaseRequest, nil)
	}
}
