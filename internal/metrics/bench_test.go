package metrics_test

import (
	"context"
	"testing"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/internal/metrics"
	"github.com/tollgate-dev/tollgate/pipeline"
	"github.com/tollgate-dev/tollgate/providers/openai"
)

var passThrough = core.StageFunc(func(ctx context.Context, r *core.Request, next core.HandlerFunc) (*core.Response, error) {
	return next(ctx, r)
})

var answer = func(context.Context, *core.Request) (*core.Response, error) { return &core.Response{Status: 200}, nil }

// BenchmarkStageOverhead is what timing one stage adds per call.
func BenchmarkStageOverhead(b *testing.B) {
	m := metrics.New(metrics.Options{})
	for _, bc := range []struct {
		name  string
		stage core.Stage
	}{
		{"bare", passThrough},
		{"timed", m.WrapStage(pipeline.Spec{Name: "validate", Kind: "builtin"}, passThrough)},
		{"timed-call", m.WrapStage(pipeline.Spec{Name: "call", Kind: "builtin"}, passThrough)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			h := core.Chain([]core.Stage{bc.stage}, answer)
			req := &core.Request{Upstream: &core.Upstream{Name: "openai"}}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				h(ctx, req)
			}
		})
	}
}

// BenchmarkComplete is what recording one call's outcome costs.
func BenchmarkComplete(b *testing.B) {
	m := metrics.New(metrics.Options{})
	o := &core.Outcome{Request: &core.Request{Format: openai.New(), Operation: "chat.completions", Model: "gpt-4o-mini",
		Upstream: &core.Upstream{Name: "openai"}}, Status: core.StatusOK, HTTPStatus: 200,
		Usage: core.Usage{InputTokens: 12, OutputTokens: 30, TotalTokens: 42}}
	b.ReportAllocs()
	for b.Loop() {
		m.Complete(o)
	}
}
