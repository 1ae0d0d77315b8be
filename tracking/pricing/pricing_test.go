package pricing_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"math"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/tracking/pricing"
)

func usd(t *testing.T, s string) core.USD {
	t.Helper()
	v, err := core.ParseUSD(s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// The expected figures are worked out by hand from prices.yaml.
func TestCostAgainstHandComputedFigures(t *testing.T) {
	table, err := pricing.NewTable(nil, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, provider, model                        string
		input, cached, cacheWrite, output, reasoning int64
		want                                         string
	}{
		// 800×0.15 + 200×0.075 + 500×0.60 = 120 + 15 + 300 µ$ = $0.000435
		{"cached input at its own rate", "openai", "gpt-4o-mini", 1000, 200, 0, 500, 0, "0.000435"},
		// dated snapshot → gpt-4o: 1000×2.50 + 100×10 = 2500 + 1000 µ$
		{"dated snapshot uses the base price", "openai", "gpt-4o-2024-08-06", 1000, 0, 0, 100, 0, "0.0035"},
		// 3000×3 + 2000×3.75 + 5000×0.30 + 800×15 = 9000 + 7500 + 1500 + 12000 µ$ = $0.03
		{"cache write and read", "anthropic", "claude-sonnet-4-20250514", 10000, 5000, 2000, 800, 0, "0.03"},
		// reasoning defaults to the output rate: 100×2 + 1000×8 = 200 + 8000 µ$
		{"reasoning at the output rate", "openai", "o3", 100, 0, 0, 1000, 600, "0.0082"},
		// one cached token at $0.025/M = 0.025 µ$ = 25,000 p$
		{"a fraction of a microdollar is kept", "gemini", "gemini-2.0-flash-001", 1, 1, 0, 0, 0, "0.000000025"},
		{"no tokens cost nothing", "openai", "gpt-4o", 0, 0, 0, 0, 0, "0"},
		// inconsistent counts are clamped: cached > input counts only cached
		{"counts that do not add up are clamped", "openai", "gpt-4o-mini", 10, 20, 0, 0, 0, "0.0000015"},
		// an upstream's absurd counts: the largest amount, never a wrapped (negative) one
		{"absurd counts saturate", "openai", "gpt-4o", 1 << 62, 0, 0, 1 << 62, 0, core.USD(math.MaxInt64).String()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev := &core.UsageEvent{Provider: tt.provider, Model: tt.model, InputTokens: tt.input, CachedInputTokens: tt.cached,
				CacheWriteTokens: tt.cacheWrite, OutputTokens: tt.output, ReasoningTokens: tt.reasoning, TotalTokens: tt.input + tt.output}
			table.Apply(ev)
			if ev.Cost == nil {
				t.Fatal("no cost")
			}
			if *ev.Cost != usd(t, tt.want) {
				t.Errorf("cost = %s, want %s", ev.Cost, tt.want)
			}
		})
	}
}

func TestCostHasNoDrift(t *testing.T) {
	p, _ := pricing.NewTable(nil, nil)
	price, ok := p.Lookup("gpt-4o-mini", "openai")
	if !ok {
		t.Fatal("gpt-4o-mini missing")
	}
	var sum core.USD
	for range 1_000_000 {
		sum += price.Cost(10, 0, 0, 0, 0) // $0.0000015 each
	}
	if sum != usd(t, "1.5") {
		t.Errorf("a million calls cost %s, want exactly 1.5", sum)
	}
	var f float64
	for range 1_000_000 {
		f += 10 * 0.15 / 1e6
	}
	if f == 1.5 {
		t.Log("float64 happened to be exact here")
	}
}

func TestOverridesAndUpstreamNames(t *testing.T) {
	var over pricing.Prices
	err := json.Unmarshal([]byte(`{"openai":{"gpt-4o":{"input":"5","output":20,"reasoning":"30"}},
		"groq":{"llama-3.3-70b":{"input":0.59,"output":0.79}}}`), &over)
	if err != nil {
		t.Fatal(err)
	}
	table, err := pricing.NewTable(over, nil)
	if err != nil {
		t.Fatal(err)
	}
	ev := &core.UsageEvent{Provider: "openai", Model: "gpt-4o", InputTokens: 1000, OutputTokens: 100, ReasoningTokens: 50, TotalTokens: 1100}
	table.Apply(ev)
	// 1000×5 + 50×20 + 50×30 = 5000 + 1000 + 1500 µ$; cached_input defaults to input
	if ev.Cost == nil || *ev.Cost != usd(t, "0.0075") {
		t.Errorf("override cost = %v, want 0.0075", ev.Cost)
	}
	ev = &core.UsageEvent{Provider: "openai", Upstream: "groq", Model: "llama-3.3-70b", InputTokens: 1_000_000, TotalTokens: 1_000_000}
	table.Apply(ev)
	if ev.Cost == nil || *ev.Cost != usd(t, "0.59") {
		t.Errorf("upstream-named price = %v, want 0.59", ev.Cost)
	}
}

func TestBadPrices(t *testing.T) {
	tests := []struct{ name, json, want string }{
		{"too precise", `{"openai":{"m":{"input":"0.0000001","output":1}}}`, "at most 6 decimal places"},
		{"negative", `{"openai":{"m":{"input":-1,"output":1}}}`, "must not be negative"},
		{"not a number", `{"openai":{"m":{"input":"cheap","output":1}}}`, "want dollars per million tokens"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var over pricing.Prices
			err := json.Unmarshal([]byte(tt.json), &over)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want %q", err, tt.want)
			}
		})
	}
	if _, err := pricing.NewTable(pricing.Prices{"openai": {"m": {}}}, nil); err == nil || !strings.Contains(err.Error(), "openai.m.input: required") {
		t.Errorf("missing input: %v", err)
	}
}

func TestUnknownModelWarnsOnce(t *testing.T) {
	var logs bytes.Buffer
	table, _ := pricing.NewTable(nil, slog.New(slog.NewTextHandler(&logs, nil)))
	for range 3 {
		ev := &core.UsageEvent{Provider: "openai", Model: "gpt-nobody-knows", InputTokens: 5, TotalTokens: 5}
		table.Apply(ev)
		if ev.Cost != nil {
			t.Fatalf("unknown model got cost %s", ev.Cost)
		}
	}
	if n := strings.Count(logs.String(), "no price for this model"); n != 1 {
		t.Errorf("%d warnings, want 1:\n%s", n, logs.String())
	}
}
