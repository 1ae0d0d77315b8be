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

// Get returns a variable's value, or nil if the result does not hold it.
func (r Result) Get(key *ast.Term) *ast.Term {
	if r.term != nil {
		if obj, ok := r.term.Value.(ast.Object); ok {
			return obj.Get(key)
		}
		return nil
	}
	for i, k := range r.keys {
		if k.Equal(key) {
			return r.vals[i]
		}
	}
	return nil
}

// Term returns the result as the object the plan would have built.
func (r Result) Term() *ast.Term {
	if r.term != nil || r.keys == nil {
		return r.term
	}
	items := make([][2]*ast.Term, len(r.keys))
	for i, k := range r.keys {
		items[i] = [2]*ast.Term{k, r.vals[i]}
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
