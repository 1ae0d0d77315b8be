package plan

import (
	"math"
	"strconv"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// OPA's arithmetic goes through math/big for every operation (a budget's
// `limit - used` costs ~18 allocations). For two integers whose result fits
// in 64 bits, plus and minus here give the same number as OPA's, written
// the same way; anything else (floats, sets, overflow) goes to OPA's.

func fastArith(name string, f topdown.BuiltinFunc) topdown.BuiltinFunc {
	var op func(a, b int64) (int64, bool)
	switch name {
	case "plus":
		op = func(a, b int64) (int64, bool) {
			s := a + b
			return s, (s > a) == (b > 0)
		}
	case "minus":
		op = func(a, b int64) (int64, bool) {
			d := a - b
			return d, (d < a) == (b > 0)
		}
	default:
		return f
	}
	return func(bctx topdown.BuiltinContext, args []*ast.Term, iter func(*ast.Term) error) error {
		if a, ok := smallInt(args[0]); ok {
			if b, ok := smallInt(args[1]); ok {
				if r, ok := op(a, b); ok {
					return iter(ast.InternedTerm(int(r)))
				}
			}
		}
		return f(bctx, args, iter)
	}
}

// smallInt reads an integer written as one (no fraction, no exponent), as
// OPA's arithmetic would read it exactly.
func smallInt(t *ast.Term) (int64, bool) {
	n, ok := t.Value.(ast.Number)
	if !ok || len(n) == 0 || len(n) > 18 {
		return 0, false
	}
	// ParseInt refuses a number with a fraction or an exponent, with an
	// error it allocates: such a number goes to the float path at once.
	if !strings.ContainsAny(string(n), ".eE") {
		if i, err := strconv.ParseInt(string(n), 10, 64); err == nil {
			return i, i != math.MinInt64
		}
	}
	// A whole number written as a float (config numbers decoded from
	// YAML or JSON are: 1e+06). OPA reads it as that integer; here only
	// when float64 holds it exactly: few digits, a small whole value.
	digits, zero := 0, true
	for _, c := range string(n) {
		if c == 'e' || c == 'E' {
			break
		}
		if c >= '0' && c <= '9' {
			digits++
			zero = zero && c == '0'
		}
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil || digits > 15 || f != math.Trunc(f) || math.Abs(f) > 1<<53 || f == 0 && !zero {
		return 0, false
	}
	return int64(f), true
}
