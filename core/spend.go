package core

import (
	"context"
	"math"
	"time"
)

// UsageTotals sums the usage events of a period.
type UsageTotals struct {
	Requests          int64 `json:"requests"`
	InputTokens       int64 `json:"input_tokens"`
	OutputTokens      int64 `json:"output_tokens"`
	TotalTokens       int64 `json:"total_tokens"`
	CachedInputTokens int64 `json:"cached_input_tokens"`
	CacheWriteTokens  int64 `json:"cache_write_tokens"`
	ReasoningTokens   int64 `json:"reasoning_tokens"`
	// Cost sums the events that had a price; Unpriced counts those that
	// did not (their model is missing from the price table).
	Cost     USD   `json:"cost"`
	Unpriced int64 `json:"unpriced_requests"`
	// Errors counts events whose status is not ok.
	Errors int64 `json:"errors"`
}

// Add adds o to t. Sums stop at the largest int64 (or the smallest)
// instead of wrapping: an upstream that reports absurd token counts must
// not turn a customer's spend negative.
func (t *UsageTotals) Add(o UsageTotals) {
	t.Requests = SaturatingAdd(t.Requests, o.Requests)
	t.InputTokens = SaturatingAdd(t.InputTokens, o.InputTokens)
	t.OutputTokens = SaturatingAdd(t.OutputTokens, o.OutputTokens)
	t.TotalTokens = SaturatingAdd(t.TotalTokens, o.TotalTokens)
	t.CachedInputTokens = SaturatingAdd(t.CachedInputTokens, o.CachedInputTokens)
	t.CacheWriteTokens = SaturatingAdd(t.CacheWriteTokens, o.CacheWriteTokens)
	t.ReasoningTokens = SaturatingAdd(t.ReasoningTokens, o.ReasoningTokens)
	t.Cost = SaturatingAdd(t.Cost, o.Cost)
	t.Unpriced = SaturatingAdd(t.Unpriced, o.Unpriced)
	t.Errors = SaturatingAdd(t.Errors, o.Errors)
}

// SaturatingAdd is a + b, held at the int64 limits instead of wrapping.
func SaturatingAdd[T ~int64](a, b T) T {
	s := a + b
	switch {
	case a > 0 && b > 0 && s < 0:
		return math.MaxInt64
	case a < 0 && b < 0 && s >= 0:
		return math.MinInt64
	}
	return s
}

// SaturatingMul is a * b, held at the int64 limits instead of wrapping.
func SaturatingMul[T ~int64](a, b T) T {
	if a == 0 || b == 0 {
		return 0
	}
	p := a * b
	// p/b undoes a wrapped product, except -2⁶³ × -1, whose quotient
	// wraps back to a as well
	if p/b != a || (b == -1 && a == math.MinInt64) {
		if (a > 0) == (b > 0) {
			return math.MaxInt64
		}
		return math.MinInt64
	}
	return p
}

// SpendReader reports what a customer has used so far: in the UTC day and
// the UTC month that contain at. Budget policies read it. The embedded usage
// ledger implements it for one node; a shared store (Redis) can implement it
// for many. Implementations are safe for concurrent use.
type SpendReader interface {
	Spend(ctx context.Context, customer string, at time.Time) (day, month UsageTotals, err error)
}
