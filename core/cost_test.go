package core_test

import (
	"encoding/json"
	"errors"
	"math"
	"testing"

	"github.com/tollgate-dev/tollgate/core"
)

func TestUSD(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want core.USD
		text string
	}{
		{"whole dollars", "12", 12 * core.Dollar, "12"},
		{"cents", "2.50", 2*core.Dollar + 500_000_000_000, "2.5"},
		{"sub-micro price", "0.01875", 18_750_000_000, "0.01875"},
		{"one picodollar", "0.000000000001", 1, "0.000000000001"},
		{"leading dot", ".5", 500_000_000_000, "0.5"},
		{"zero", "0", 0, "0"},
		{"negative", "-1.25", -1_250_000_000_000, "-1.25"},
		// the extremes a saturated ledger total is written as read back
		{"the largest amount", "9223372.036854775807", math.MaxInt64, "9223372.036854775807"},
		{"the smallest amount", "-9223372.036854775808", math.MinInt64, "-9223372.036854775808"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := core.ParseUSD(tt.in)
			if err != nil || got != tt.want {
				t.Fatalf("ParseUSD(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
			}
			if got.String() != tt.text {
				t.Errorf("String() = %q, want %q", got.String(), tt.text)
			}
			b, _ := json.Marshal(struct{ C core.USD }{got})
			var back struct{ C core.USD }
			if err := json.Unmarshal(b, &back); err != nil || back.C != got {
				t.Errorf("JSON %s round trip = %d, %v", b, back.C, err)
			}
		})
	}
	for _, bad := range []string{"", "abc", "1e3", "0.0000000000001", "1.2.3", "99999999999", "9223372.036854775808", "-9223372.036854775809", "9223373"} {
		if _, err := core.ParseUSD(bad); !errors.Is(err, core.ErrUSDSyntax) {
			t.Errorf("ParseUSD(%q) err = %v, want ErrUSDSyntax", bad, err)
		}
	}
}
