package plan

import (
	"encoding/json"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// TestFormatIntMatchesOPA compares format_int's fast path with OPA's on
// numbers it takes and numbers it must leave to OPA, in several bases,
// twice each (the second answer comes from the machine's kept ones).
func TestFormatIntMatchesOPA(t *testing.T) {
	nums := []string{"0", "-0", "1", "-1", "7", "100", "1024", "-1024", "987655", "1.5", "1e3", "1e+06",
		"12345.0", "-2.5", "999999999999999999", "-999999999999999999", "9223372036854775807", "123456789012345678901", "1234567890123456789"}
	opa := topdown.GetBuiltin("format_int")
	m := &machine{}
	fast := 0
	for range 2 {
		for _, n := range nums {
			for _, base := range []string{"10", "2", "8", "16", "10.0"} {
				args := []*ast.Term{ast.NumberTerm(json.Number(n)), ast.NumberTerm(json.Number(base))}
				var want *ast.Term
				err := opa(topdown.BuiltinContext{}, args, func(t *ast.Term) error { want = t; return nil })
				got := m.formatInt(args)
				if got == nil {
					continue
				}
				fast++
				if err != nil || !want.Equal(got) {
					t.Errorf("format_int(%s, %s) = %v, OPA says %v (error %v)", n, base, got, want, err)
				}
			}
		}
		if got := m.formatInt([]*ast.Term{ast.StringTerm("5"), ast.IntNumberTerm(10)}); got != nil {
			t.Errorf("format_int of a string = %v, want OPA's error", got)
		}
	}
	for _, s := range []string{"", "-", "+5", "007", "-0", "0x1", "1_000"} { // not numbers OPA's reads
		if plainInt(s) {
			t.Errorf("plainInt(%q) = true", s)
		}
	}
	if fast != 2*10 {
		t.Errorf("the fast path took %d cases, want 20", fast)
	}
}
