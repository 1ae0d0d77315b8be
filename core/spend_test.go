package core_test

import (
	"math"
	"testing"

	"github.com/tollgate-dev/tollgate/core"
)

func TestSaturatingArithmetic(t *testing.T) {
	const max, min = math.MaxInt64, math.MinInt64
	for _, tt := range []struct{ a, b, sum, product int64 }{
		{2, 3, 5, 6},
		{-2, 3, 1, -6},
		{max, 1, max, max},
		{max, -1, max - 1, -max},
		{min, -1, min, max},
		{-1, min, min, max},
		{min, 1, min + 1, min},
		{1 << 62, 1 << 62, max, max},
		{-(1 << 62), 1 << 62, 0, min},
		{0, min, min, 0},
	} {
		if got := core.SaturatingAdd(tt.a, tt.b); got != tt.sum {
			t.Errorf("SaturatingAdd(%d, %d) = %d, want %d", tt.a, tt.b, got, tt.sum)
		}
		if got := core.SaturatingMul(tt.a, tt.b); got != tt.product {
			t.Errorf("SaturatingMul(%d, %d) = %d, want %d", tt.a, tt.b, got, tt.product)
		}
	}
}

// TestTotalsNeverWrap: a ledger row that an absurd upstream count pushed to
// the top stays there; it does not turn negative.
func TestTotalsNeverWrap(t *testing.T) {
	tot := core.UsageTotals{InputTokens: math.MaxInt64 - 5, Cost: core.USD(math.MaxInt64)}
	tot.Add(core.UsageTotals{Requests: 1, InputTokens: 10, Cost: core.Dollar})
	if tot.InputTokens != math.MaxInt64 || tot.Cost != core.USD(math.MaxInt64) || tot.Requests != 1 {
		t.Fatalf("totals %+v; want input tokens and cost held at the maximum", tot)
	}
}
