package plan

import (
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// OPA's object.union_n copies every object it is given into a new one
// and keeps a map of frozen keys (~18 allocations for the patches and
// headers a guardrail set aggregates per call). Most calls union objects
// of which at most one has keys, or whose keys do not clash: the result
// is then that object, or one object built at once, with the same keys
// and values as OPA's. Two objects under one key (a merge), keys other
// than strings and anything that is not an array of objects go to OPA's.

// maxFastUnion bounds the keys the fast path collects (a linear search).
const maxFastUnion = 16

func fastUnionN(f topdown.BuiltinFunc) topdown.BuiltinFunc {
	return func(bctx topdown.BuiltinContext, args []*ast.Term, iter func(*ast.Term) error) error {
		if t := unionN(args[0]); t != nil {
			return iter(t)
		}
		return f(bctx, args, iter)
	}
}

// unionN returns the union of an array of objects with string keys when
// no two objects set a key to objects (which OPA merges), or nil for
// OPA's to answer.
func unionN(t *ast.Term) *ast.Term {
	arr, ok := t.Value.(*ast.Array)
	if !ok || arr.Len() < 2 {
		return nil // OPA's answers these without copying
	}
	var only *ast.Term // the one object with keys, if only one has
	keys := 0
	for i := range arr.Len() {
		o, ok := arr.Elem(i).Value.(ast.Object)
		if !ok {
			return nil
		}
		if n := o.Len(); n > 0 {
			only = arr.Elem(i)
			keys += n
		}
	}
	switch {
	case keys == 0:
		return ast.InternedEmptyObject
	case keys == only.Value.(ast.Object).Len():
		return only
	case keys > maxFastUnion:
		return nil
	}
	// The last object wins: collect from the back, each key once.
	var buf [maxFastUnion][2]*ast.Term
	items := buf[:0]
	fast := true
	for i := arr.Len() - 1; i >= 0 && fast; i-- {
		arr.Elem(i).Value.(ast.Object).Foreach(func(k, v *ast.Term) {
			ks, ok := k.Value.(ast.String)
			if !ok {
				fast = false
				return
			}
			for _, it := range items {
				if it[0].Value.(ast.String) == ks {
					fast = fast && !(isObject(it[1]) && isObject(v))
					return
				}
			}
			items = append(items, [2]*ast.Term{k, v})
		})
	}
	if !fast {
		return nil
	}
	return ast.NewTerm(ast.NewObject(items...))
}

func isObject(t *ast.Term) bool {
	_, ok := t.Value.(ast.Object)
	return ok
}
