package core

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// USD is an amount of US dollars held as an integer number of picodollars
// (10⁻¹² $). Prices are quoted per million tokens; a price of p microdollars
// per million tokens is exactly p picodollars per token, so a call's cost is
// integer arithmetic with no rounding and no floating-point drift. The
// largest amount is about $9.2 million.
//
// Its JSON form is a number written with its exact decimal digits, e.g.
// 0.00000375; read it with a decimal parser to keep every digit.
type USD int64

// Units of [USD].
const (
	Picodollar  USD = 1
	Microdollar USD = 1_000_000
	Dollar      USD = 1_000_000_000_000
)

// String writes the amount in dollars with every significant digit and no
// trailing zeros: "0.00000375", "12.5", "0".
func (u USD) String() string { return string(u.AppendDecimal(make([]byte, 0, 24))) }

// AppendDecimal appends [USD.String]'s form without allocating.
func (u USD) AppendDecimal(b []byte) []byte {
	n := uint64(u)
	if u < 0 {
		b = append(b, '-')
		n = -n // two's complement: right for math.MinInt64 too
	}
	whole, frac := n/uint64(Dollar), n%uint64(Dollar)
	b = strconv.AppendUint(b, whole, 10)
	if frac == 0 {
		return b
	}
	var digits [12]byte
	for i := 11; i >= 0; i-- {
		digits[i] = byte('0' + frac%10)
		frac /= 10
	}
	end := 12
	for digits[end-1] == '0' {
		end--
	}
	b = append(b, '.')
	return append(b, digits[:end]...)
}

// MarshalJSON writes the amount as a JSON number with its exact digits.
func (u USD) MarshalJSON() ([]byte, error) { return u.AppendDecimal(nil), nil }

// UnmarshalJSON reads a JSON number or string of dollars exactly.
func (u *USD) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	v, err := ParseUSD(s)
	if err != nil {
		return err
	}
	*u = v
	return nil
}

// ErrUSDSyntax is returned by [ParseUSD] for text that is not a decimal
// amount of dollars with at most 12 decimal places.
var ErrUSDSyntax = errors.New("not a dollar amount")

// ParseUSD reads a decimal amount of dollars such as "2.50" or "0.000075"
// exactly. It accepts at most 12 decimal places (one picodollar) and no
// exponent.
func ParseUSD(s string) (USD, error) {
	orig := s
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" && frac == "" || len(frac) > 12 || !digits(whole) || !digits(frac) {
		return 0, fmt.Errorf("%w: %q (want a decimal like 2.50, at most 12 decimal places)", ErrUSDSyntax, orig)
	}
	// Every amount USD holds reads back, its extremes too: a ledger row
	// summed up to them is written with String and read with this.
	limit := uint64(math.MaxInt64)
	if neg {
		limit++ // -2⁶³ picodollars is an amount too
	}
	tooLarge := func() error {
		return fmt.Errorf("%w: %q is too large (the limit is $%s)", ErrUSDSyntax, orig, USD(math.MaxInt64))
	}
	var w, f uint64
	var err error
	if whole != "" {
		if w, err = strconv.ParseUint(whole, 10, 64); err != nil || w > limit/uint64(Dollar) {
			return 0, tooLarge()
		}
	}
	if frac != "" {
		f, _ = strconv.ParseUint(frac+strings.Repeat("0", 12-len(frac)), 10, 64)
	}
	m := w*uint64(Dollar) + f // w ≤ 9,223,372: no overflow
	if m > limit {
		return 0, tooLarge()
	}
	if neg {
		return -USD(m), nil // two's complement: right for -2⁶³ too
	}
	return USD(m), nil
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
