package plan

import (
	"math/rand/v2"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// TestUnionNMatchesOPA compares object.union_n with OPA's on written cases
// (clashes, merges, frozen keys, empty objects, number keys, non-objects)
// and on many random arrays of small objects.
func TestUnionNMatchesOPA(t *testing.T) {
	cases := []string{
		`[]`, `[{}]`, `[{}, {}]`, `[{"a": 1}]`, `[{}, {"a": 1}]`, `[{"a": 1}, {}]`, `[{"a": 1}, {"b": 2}]`,
		`[{"a": 1}, {"a": 2}]`, `[{"a": {"b": 2}}, {"a": {"c": 3}}]`, `[{"a": {"b": 2}}, {"a": 4}, {"a": {"c": 3}}]`,
		`[{"a": 4}, {"a": {"c": 3}}]`, `[{"a": {"c": 3}}, {"a": 4}]`, `[{1: "x"}, {1.0: "y"}]`, `[{"a": 1}, 2]`,
		`[{"a": 1}, [1]]`, `[{"x-a": "1"}, {"x-b": "2"}, {"x-a": "3"}]`, `{"a": 1}`, `[{"a": set()}, {"a": {"b": 1}}]`,
		`[{"k0": 1, "k1": 2, "k2": 3, "k3": 4, "k4": 5, "k5": 6, "k6": 7, "k7": 8, "k8": 9}, {"j0": 1, "j1": 2, "j2": 3, "j3": 4, "j4": 5, "j5": 6, "j6": 7, "j7": 8, "j8": 9}]`,
	}
	for _, c := range cases {
		sameUnion(t, ast.MustParseTerm(c))
	}
	r := rand.New(rand.NewPCG(1, 2))
	fast := 0
	values := []string{`1`, `"v"`, `{}`, `{"x": 1}`, `{"y": {"z": 2}}`, `[1]`, `null`}
	for range 5000 {
		objs := make([]*ast.Term, r.IntN(5))
		for i := range objs {
			obj := ast.NewObject()
			for range r.IntN(4) {
				obj.Insert(ast.StringTerm(string(rune('a'+r.IntN(4)))), ast.MustParseTerm(values[r.IntN(len(values))]))
			}
			objs[i] = ast.NewTerm(obj)
		}
		arg := ast.ArrayTerm(objs...)
		sameUnion(t, arg)
		if unionN(arg) != nil {
			fast++
		}
	}
	if fast < 1000 {
		t.Errorf("the fast path answered %d of 5000 random cases: the test no longer exercises it", fast)
	}
}

func sameUnion(t *testing.T, arg *ast.Term) {
	t.Helper()
	opa := topdown.GetBuiltin("object.union_n")
	run := func(f topdown.BuiltinFunc) (*ast.Term, error) {
		var out *ast.Term
		err := f(topdown.BuiltinContext{}, []*ast.Term{arg}, func(t *ast.Term) error { out = t; return nil })
		return out, err
	}
	want, werr := run(opa)
	got, gerr := run(fastUnionN(opa))
	if (werr != nil) != (gerr != nil) || (want == nil) != (got == nil) || want != nil && want.Value.Compare(got.Value) != 0 {
		t.Errorf("object.union_n(%v) = %v (%v), OPA says %v (%v)", arg, got, gerr, want, werr)
	}
}
