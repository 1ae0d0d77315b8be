package core

import (
	"context"
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

// Add adds o to t.
func (t *UsageTotals) Add(o UsageTotals) {
	t.Requests += o.Requests
	t.InputTokens += o.InputTokens
	t.OutputTokens += o.OutputTokens
	t.TotalTokens += o.TotalTokens
	t.CachedInputTokens += o.CachedInputTokens
	t.CacheWriteTokens += o.CacheWriteTokens
	t.ReasoningTokens += o.ReasoningTokens
	t.Cost += o.Cost
	t.Unpriced += o.Unpriced
	t.Errors += o.Errors
}

// SpendReader reports what a customer has used so far: in the UTC day and
// the UTC month that contain at. Budget policies read it. The embedded usage
// ledger implements it for one node; a shared store (Redis) can implement it
// for many. Implementations are safe for concurrent use.
type SpendReader interface {
	Spend(ctx context.Context, customer string, at time.Time) (day, month UsageTotals, err error)
}
