package plan

import (
	"encoding/json"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// TestFastArithMatchesOPA compares plus and minus with OPA's on integers
// around the 64-bit limits, floats and exponents.
func TestFastArithMatchesOPA(t *testing.T) {
	nums := []string{"0", "-0", "1", "-1", "41", "1000000", "9223372036854775807", "-9223372036854775808",
		"9223372036854775806", "-9223372036854775807", "999999999999999999", "1.5", "1e3", "-2.0", "1e+06", "1.5e3", "1e-400", "2.5e-1", "12345.0", "1e20", "9007199254740993.0"}
	for _, name := range []string{"plus", "minus"} {
		opa := topdown.GetBuiltin(name)
		fast := fastArith(name, opa)
		for _, a := range nums {
			for _, b := range nums {
				args := []*ast.Term{ast.NumberTerm(json.Number(a)), ast.NumberTerm(json.Number(b))}
				var want, got *ast.Term
				if err := opa(topdown.BuiltinContext{}, args, func(t *ast.Term) error { want = t; return nil }); err != nil {
					t.Fatal(err)
				}
				if err := fast(topdown.BuiltinContext{}, args, func(t *ast.Term) error { got = t; return nil }); err != nil {
					t.Fatal(err)
				}
				if got.String() != want.String() {
					t.Errorf("%s(%s, %s) = %v, OPA says %v", name, a, b, got, want)
				}
			}
		}
	}
}
