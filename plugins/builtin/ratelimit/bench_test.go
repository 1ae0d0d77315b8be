package ratelimit

import (
	"context"
	"github.com/tollgate-dev/tollgate/internal/benchcpu"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/internal/redisstore"
	"github.com/tollgate-dev/tollgate/internal/redistest"
	"github.com/tollgate-dev/tollgate/pipeline"
	"github.com/tollgate-dev/tollgate/providers/openai"
)

var benchBody = `{"model":"gpt-4o-mini","temperature":0.2,"max_tokens":200,"messages":[{"role":"user","content":"` +
	strings.Repeat("Tell me about the gateway. ", 30) + `"}]}`

func ok(context.Context, *core.Request) (*core.Response, error) {
	return &core.Response{Status: 200, Usage: core.Usage{InputTokens: 180, OutputTokens: 60}, UsageKnown: true}, nil
}

// check runs one call's limit check and reconciliation: requests and
// tokens per minute (the short form), for one customer.
func check(b *testing.B, env pipeline.Env) { checkWith(b, env, nil) }

// checkWith is check for a call made with a virtual key p (nil for none).
func checkWith(b *testing.B, env pipeline.Env, p *core.Principal) {
	env.Log = slog.New(slog.DiscardHandler)
	s, err := newStage(pipeline.Spec{Name: "ratelimit", Kind: "builtin",
		Config: map[string]any{"requests_per_minute": 1e12, "tokens_per_minute": 1e15}}, env)
	if err != nil {
		b.Fatal(err)
	}
	rl := s.(*RateLimit)
	b.Cleanup(func() { rl.Close(context.Background()) })
	req := &core.Request{ID: "bench", Method: http.MethodPost, Format: openai.New(), Operation: "chat.completions",
		Body: []byte(benchBody), Customer: "acme", Principal: p}
	ctx := context.Background()
	b.ReportAllocs()
	defer benchcpu.Start(b)()
	for b.Loop() {
		if _, err := rl.Handle(ctx, req, ok); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCheckMemory is a rate-limit check in memory.
func BenchmarkCheckMemory(b *testing.B) { check(b, pipeline.Env{}) }

// benchKey is a virtual key with every limit: its own requests and tokens
// per minute and a monthly budget.
var benchKey = &core.Principal{KeyID: "key_bench", Customer: "acme",
	Limits: core.Limits{RequestsPerMinute: 1e12, TokensPerMinute: 1e15, MonthlyBudget: 1000 * core.Dollar}}

// BenchmarkCheckKeyMemory is a rate-limit check in memory of a call made
// with a virtual key: the configured limits, the key's own, and its budget
// against the customer's spend (read once per budget_refresh).
func BenchmarkCheckKeyMemory(b *testing.B) {
	checkWith(b, pipeline.Env{Spend: fixedSpend{"acme": core.Dollar}}, benchKey)
}

// BenchmarkCheckRedis is a rate-limit check in Redis: one round trip to
// take, one to reconcile the tokens.
func BenchmarkCheckRedis(b *testing.B) {
	srv := redistest.Start(b)
	check(b, pipeline.Env{Redis: &redisstore.Options{Addr: srv.Addr, KeyPrefix: "b:"}})
}
