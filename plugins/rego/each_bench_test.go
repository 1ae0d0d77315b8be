package rego

import (
	"context"
	"maps"
	"testing"
)

// BenchmarkGuardrail measures each shipped request guardrail alone.
func BenchmarkGuardrail(b *testing.B) {
	for _, q := range []string{"models", "max_tokens", "pii", "injection", "budgets"} {
		b.Run(q, func(b *testing.B) {
			cfg := maps.Clone(benchConfig)
			cfg["query"] = "data.tollgate.guardrails." + q
			s := benchStage(b, cfg)
			ctx := context.Background()
			body := []byte(benchBody)
			req := chatRequest(benchBody)
			b.ReportAllocs()
			m := startCPU()
			defer m.report(b)
			for b.Loop() {
				req.Body = body
				if _, err := s.Handle(ctx, req, answer); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkInput is building the input document alone (body, texts, usage).
func BenchmarkInput(b *testing.B) {
	s := benchStage(b, benchConfig)
	p := s.cur.Load()
	ctx := context.Background()
	req := chatRequest(benchBody)
	b.ReportAllocs()
	m := startCPU()
	defer m.report(b)
	for b.Loop() {
		items, err := s.requestItems(ctx, req, p.needs)
		if err != nil {
			b.Fatal(err)
		}
		_ = withPhase(items, phaseRequest, nil)
	}
}
