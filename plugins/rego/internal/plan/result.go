package plan

import "github.com/open-policy-agent/opa/v1/ast"

// A query's result is an object of its variables, which the plan builds
// and adds to the result set as its last two statements. The caller reads
// a few variables from it and drops it: building it costs an object
// (~7 allocations) per evaluation. When the plan's only result is such an
// object, the program records the values instead (a tuple), and Result
// looks the variables up among them.

// Result is one result of a query: an object of its variables.
type Result struct {
	keys []*ast.Term // the variables, when vals holds their values
	vals []*ast.Term
	term *ast.Term // the object, otherwise
}

// Get returns a variable's value as OPA's, or nil if the result does
// not hold it.
func (r Result) Get(key *ast.Term) *ast.Term {
	if r.term != nil {
		if kind(r.term.Value) != 1 {
			return nil
		}
		return toOPA(dot(r.term, key))
	}
	for i, k := range r.keys {
		if k.Equal(key) {
			return toOPA(r.vals[i])
		}
	}
	return nil
}

// Term returns the result as the object the plan would have built.
func (r Result) Term() *ast.Term {
	if r.term != nil || r.keys == nil {
		return toOPA(r.term)
	}
	items := make([][2]*ast.Term, len(r.keys))
	for i, k := range r.keys {
		items[i] = [2]*ast.Term{k, toOPA(r.vals[i])}
	}
	return ast.ObjectTerm(items...)
}

// tupleResult rewrites the plan's one result statement, when it adds an
// object built just before it of constant string keys that nothing else
// reads, into a tuple result. It returns the keys, or nil if the plan is
// left as it is.
func tupleResult(main *function) []*ast.Term {
	var sites []*instr
	var site block
	reads := map[int32]int{}
	var walk func(bs []block)
	walk = func(bs []block) {
		for _, b := range bs {
			for i := range b {
				in := &b[i]
				for _, o := range append([]operand{in.a, in.b}, in.args...) {
					if o.k == nil {
						reads[o.local]++
					}
				}
				switch in.op {
				case opArrayAppend, opObjectInsert, opObjectInsertOnce, opSetAdd:
					reads[in.dst]++
				}
				if in.op == opResult {
					sites = append(sites, in)
					if i > 0 {
						site = b[i-1 : i+1]
					}
				}
				walk(in.body)
			}
		}
	}
	walk(main.blocks)
	if len(sites) != 1 || site == nil {
		return nil
	}
	build, res := &site[0], &site[1]
	if build.op != opBuildObject || build.dst != res.a.local || reads[build.dst] != 1 {
		return nil
	}
	var keys []*ast.Term
	var ops []operand
	for i := 0; i < len(build.args); i += 2 {
		k := build.args[i].k
		if _, ok := keyString(k); !ok {
			return nil
		}
		keys = append(keys, k)
		ops = append(ops, build.args[i+1])
	}
	*build = instr{op: opNop, where: build.where}
	*res = instr{op: opResultTuple, args: ops, where: res.where}
	return keys
}

func keyString(t *ast.Term) (ast.String, bool) {
	if t == nil {
		return "", false
	}
	s, ok := t.Value.(ast.String)
	return s, ok
}

// Value returns a variable's value as the evaluation left it, or nil if
// the result does not hold it: an object or array in it may be the
// evaluator's own (read an object with ObjectOf; ToOPA converts any
// value for OPA's code). It is immutable, and safe to read concurrently.
func (r Result) Value(key *ast.Term) *ast.Term {
	if r.term != nil {
		if kind(r.term.Value) != 1 {
			return nil
		}
		return dot(r.term, key)
	}
	for i, k := range r.keys {
		if k.Equal(key) {
			return r.vals[i]
		}
	}
	return nil
}

// ToOPA returns a value of a result as OPA's value: t itself unless it
// holds the evaluator's own objects or arrays, converted then.
func ToOPA(t *ast.Term) *ast.Term { return toOPA(t) }

// Object is an object read in place: OPA's, or one the evaluator built,
// whose values are converted for OPA's code as they are read. Foreach
// goes through the keys in OPA's order.
type Object interface {
	Len() int
	Get(key *ast.Term) *ast.Term
	Foreach(f func(k, v *ast.Term))
}

// ObjectOf returns t's value as an Object; false if it is no object.
func ObjectOf(t *ast.Term) (Object, bool) {
	switch v := t.Value.(type) {
	case ast.Object:
		return v, true
	case *ownObject:
		return ownView{v}, true
	}
	return nil, false
}

// AppendPairs appends o's pairs to dst, in o's order, values converted for
// OPA's code as Foreach gives them: a caller walks them with a loop on its
// own stack, where a closure given to Foreach would escape on every call.
func AppendPairs(dst [][2]*ast.Term, o Object) [][2]*ast.Term {
	if v, ok := o.(ownView); ok {
		for _, p := range v.o.pairs {
			dst = append(dst, [2]*ast.Term{p[0], toOPA(p[1])})
		}
		return dst
	}
	return append(dst, pairsOf(o)...)
}

// pairsOf collects the pairs of an object that is not the evaluator's
// (its slice escapes with the closure; dst in AppendPairs does not).
func pairsOf(o Object) [][2]*ast.Term {
	var out [][2]*ast.Term
	o.Foreach(func(k, v *ast.Term) { out = append(out, [2]*ast.Term{k, v}) })
	return out
}

// ownView reads an own object as an Object.
type ownView struct{ o *ownObject }

func (v ownView) Len() int { return len(v.o.pairs) }

func (v ownView) Get(key *ast.Term) *ast.Term { return toOPA(v.o.get(key)) }

func (v ownView) Foreach(f func(k, v *ast.Term)) {
	for _, p := range v.o.pairs {
		f(p[0], toOPA(p[1]))
	}
}
