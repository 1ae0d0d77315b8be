package plan

import (
	"sync"

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
	c := collectors.Get().(*unionCollector)
	defer c.release()
	for i := arr.Len() - 1; i >= 0 && c.fast; i-- {
		arr.Elem(i).Value.(ast.Object).Foreach(c.addFn)
	}
	if !c.fast {
		return nil
	}
	return ast.NewTerm(ast.NewObject(c.items...))
}

// unionCollector gathers the keys of a union; pooled with its method
// value bound, so that a union allocates only its result.
type unionCollector struct {
	buf   [maxFastUnion][2]*ast.Term
	items [][2]*ast.Term
	fast  bool
	addFn func(k, v *ast.Term)
}

var collectors = sync.Pool{New: func() any {
	c := &unionCollector{fast: true}
	c.items = c.buf[:0]
	c.addFn = c.add
	return c
}}

func (c *unionCollector) add(k, v *ast.Term) {
	if !c.fast {
		return
	}
	ks, ok := k.Value.(ast.String)
	if !ok {
		c.fast = false
		return
	}
	for _, it := range c.items {
		if it[0].Value.(ast.String) == ks {
			c.fast = !(isObject(it[1]) && isObject(v))
			return
		}
	}
	c.items = append(c.items, [2]*ast.Term{k, v})
}

func (c *unionCollector) release() {
	clear(c.buf[:])
	c.items, c.fast = c.buf[:0], true
	collectors.Put(c)
}

func isObject(t *ast.Term) bool { return kind(t.Value) == 1 }

// unionOwn answers object.union_n of an array the evaluation grew (a
// comprehension of the guardrails' patches or headers) as unionN does,
// without converting the array and its objects for OPA's: the result is
// one of the objects or an own object. nil hands the call to OPA's.
func (m *machine) unionOwn(args []*ast.Term) *ast.Term {
	arr, ok := args[0].Value.(*ownArray)
	if !ok {
		return nil
	}
	var only *ast.Term // the one object with keys, if only one has
	keys := 0
	for _, e := range arr.elems {
		n, ok := objectLen(e)
		if !ok {
			return nil
		}
		if n > 0 {
			only = e
			keys += n
		}
	}
	if keys == 0 {
		return ast.InternedEmptyObject
	}
	if n, _ := objectLen(only); n == keys {
		return only
	}
	if keys > maxFastUnion {
		return nil
	}
	// The last object wins: collect from the back, each key once.
	c := collectors.Get().(*unionCollector)
	defer c.release()
	for i := len(arr.elems) - 1; i >= 0 && c.fast; i-- {
		switch o := arr.elems[i].Value.(type) {
		case *ownObject:
			for _, p := range o.pairs {
				c.add(p[0], p[1])
			}
		case ast.Object:
			o.Foreach(c.addFn)
		}
	}
	if !c.fast {
		return nil
	}
	o := m.newObject(len(c.items))
	for _, it := range c.items {
		o.put(it[0], it[1])
	}
	return m.newTerm(o)
}

// objectLen is the number of keys of an object, own or OPA's; false for
// any other value.
func objectLen(t *ast.Term) (int, bool) {
	switch o := t.Value.(type) {
	case *ownObject:
		return len(o.pairs), true
	case ast.Object:
		return o.Len(), true
	}
	return 0, false
}
