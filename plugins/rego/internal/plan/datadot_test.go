package plan

import (
	"context"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage/inmem"
)

// TestDataDotFollowsData evaluates one program on data that changes from
// call to call, alternately, and compares each answer with topdown's: a
// lookup in data answers from its last answer only on the same data.
func TestDataDotFollowsData(t *testing.T) {
	const module = `package p
import rego.v1
limit := data.cfg.limits[input.who] if input.who else := data.cfg["default"]
deny contains "over" if input.n > limit
deny contains sprintf("%v", [data.cfg.name]) if data.cfg.name
`
	c := ast.MustCompileModules(map[string]string{"p.rego": module})
	ir, err := Plan(context.Background(), c, "x = data.p.deny; y = data.p.limit")
	if err != nil {
		t.Fatal(err)
	}
	prog, err := Compile(ir, nil)
	if err != nil {
		t.Fatal(err)
	}
	marked := 0
	for _, fn := range append([]*function{prog.main}, prog.funcs...) {
		walkInstrs(fn.blocks, func(in *instr) {
			if in.data != nil {
				marked++
			}
		})
	}
	if marked == 0 {
		t.Fatal("no lookup in data is marked: the test checks nothing")
	}
	datas := []map[string]any{
		{"cfg": map[string]any{"default": 10, "limits": map[string]any{"a": 5}, "name": "one"}},
		{"cfg": map[string]any{"default": 20}},
		{"cfg": map[string]any{"limits": map[string]any{"a": 50, "b": 1}}},
		{},
	}
	inputs := []map[string]any{{"who": "a", "n": 7}, {"who": "b", "n": 7}, {"n": 15}}
	for round := range 3 {
		for i, d := range datas {
			for _, in := range inputs {
				data := ast.NewTerm(ast.MustInterfaceToValue(d))
				input := ast.NewTerm(ast.MustInterfaceToValue(in))
				res, n, err := prog.Eval(context.Background(), Env{Input: input, Data: data})
				if err != nil {
					t.Fatal(err)
				}
				got := "undefined"
				if n > 0 {
					j, err := ast.JSON(res.Term().Value) // sets as arrays, as rego's bindings
					if err != nil {
						t.Fatal(err)
					}
					got = ast.MustInterfaceToValue(j).String()
				}
				rs, err := rego.New(rego.Compiler(c), rego.Store(inmem.NewFromObject(d)), rego.Input(in),
					rego.Query("x = data.p.deny; y = data.p.limit")).Eval(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				want := "undefined"
				if len(rs) > 0 {
					want = ast.NewObject(
						[2]*ast.Term{ast.StringTerm("x"), ast.NewTerm(ast.MustInterfaceToValue(rs[0].Bindings["x"]))},
						[2]*ast.Term{ast.StringTerm("y"), ast.NewTerm(ast.MustInterfaceToValue(rs[0].Bindings["y"]))}).String()
				}
				if got != want {
					t.Errorf("round %d, data %d, input %v: got %s, topdown %s", round, i, in, got, want)
				}
			}
		}
	}
}
