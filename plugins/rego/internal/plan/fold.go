package plan

import (
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/ir"
)

// A literal in a policy ([a, b], {"k": v}, {x, y}) is planned as a make
// statement followed by one append or insert per element. fold rewrites
// such a run into one instruction that builds the collection at once, or,
// when every element is a constant and nothing mutates the collection
// afterwards, into a constant built at load: a table or a word list in a
// policy then costs nothing per evaluation.

// mutated returns the locals that statements other than a literal's run
// (see runs) append, insert or add to: their collections are not
// constants.
func mutated(blocks []*ir.Block) map[ir.Local]bool {
	out := map[ir.Local]bool{}
	var walk func(b *ir.Block)
	walk = func(b *ir.Block) {
		inRun := runMembers(b)
		for i, s := range b.Stmts {
			if t, ok := mutationTarget(s); ok && !inRun[i] {
				out[t] = true
			}
			for _, sub := range subBlocks(s) {
				walk(sub)
			}
		}
	}
	for _, b := range blocks {
		walk(b)
	}
	return out
}

func mutationTarget(s ir.Stmt) (ir.Local, bool) {
	switch s := s.(type) {
	case *ir.ArrayAppendStmt:
		return s.Array, true
	case *ir.ObjectInsertStmt:
		return s.Object, true
	case *ir.ObjectInsertOnceStmt:
		return s.Object, true
	case *ir.SetAddStmt:
		return s.Set, true
	}
	return 0, false
}

func subBlocks(s ir.Stmt) []*ir.Block {
	switch s := s.(type) {
	case *ir.BlockStmt:
		return s.Blocks
	case *ir.NotStmt:
		return []*ir.Block{s.Block}
	case *ir.ScanStmt:
		return []*ir.Block{s.Block}
	case *ir.WithStmt:
		return []*ir.Block{s.Block}
	}
	return nil
}

// runLength returns how many statements after a make statement at i add
// to its collection, one after the other; 0 if the statement is no make.
func runLength(b *ir.Block, i int) int {
	var t ir.Local
	var fits func(ir.Stmt) bool
	switch s := b.Stmts[i].(type) {
	case *ir.MakeArrayStmt:
		t = s.Target
		fits = func(x ir.Stmt) bool { a, ok := x.(*ir.ArrayAppendStmt); return ok && a.Array == t }
	case *ir.MakeObjectStmt:
		t = s.Target
		fits = func(x ir.Stmt) bool {
			o, ok := x.(*ir.ObjectInsertStmt)
			return ok && o.Object == t && !refersTo(o.Key, t) && !refersTo(o.Value, t)
		}
	case *ir.MakeSetStmt:
		t = s.Target
		fits = func(x ir.Stmt) bool { a, ok := x.(*ir.SetAddStmt); return ok && a.Set == t && !refersTo(a.Value, t) }
	default:
		return 0
	}
	n := 0
	for _, s := range b.Stmts[i+1:] {
		if !fits(s) {
			break
		}
		n++
	}
	return n
}

func refersTo(o ir.Operand, l ir.Local) bool {
	x, ok := o.Value.(ir.Local)
	return ok && x == l
}

// runMembers marks the statements of a block that belong to a literal's
// run.
func runMembers(b *ir.Block) map[int]bool {
	out := map[int]bool{}
	for i := 0; i < len(b.Stmts); i++ {
		n := runLength(b, i)
		for j := 1; j <= n; j++ {
			out[i+j] = true
		}
		i += n
	}
	return out
}

// literal compiles the run of a make statement at b.Stmts[i] (n elements
// after it) into one instruction. consts are the locals known to hold a
// constant at this point of the block.
func (c *compiler) literal(b *ir.Block, i, n int, consts map[int32]*ast.Term) (instr, error) {
	elems := b.Stmts[i+1 : i+1+n]
	ops := make([]operand, 0, 2*n)
	constant := true
	add := func(o ir.Operand) error {
		x, err := c.operand(o)
		if err != nil {
			return err
		}
		if x.k == nil {
			if k, ok := consts[x.local]; ok {
				x = operand{k: k}
			} else {
				constant = false
			}
		}
		ops = append(ops, x)
		return nil
	}
	var in instr
	var t ir.Local
	for _, s := range elems {
		var err error
		switch s := s.(type) {
		case *ir.ArrayAppendStmt:
			err = add(s.Value)
		case *ir.ObjectInsertStmt:
			if err = add(s.Key); err == nil {
				err = add(s.Value)
			}
		case *ir.SetAddStmt:
			err = add(s.Value)
		}
		if err != nil {
			return in, err
		}
	}
	switch s := b.Stmts[i].(type) {
	case *ir.MakeArrayStmt:
		in, t = instr{op: opBuildArray}, s.Target
	case *ir.MakeObjectStmt:
		in, t = instr{op: opBuildObject}, s.Target
	case *ir.MakeSetStmt:
		in, t = instr{op: opBuildSet}, s.Target
	}
	in.dst, in.args = c.local(t), ops
	if constant && !c.mutated[t] {
		in = instr{op: opConst, dst: in.dst, k: ast.NewTerm(build(in.op, ops, nil))}
	}
	return in, nil
}

// build makes a literal's collection from its elements (pairs for an
// object). An array keeps the slice it is given; a set or an object
// copies its elements, so those are gathered on the stack when few.
func build(op opcode, ops []operand, fr []*ast.Term) ast.Value {
	switch op {
	case opBuildArray:
		terms := make([]*ast.Term, len(ops))
		for i, o := range ops {
			terms[i] = toOPA(read(fr, o))
		}
		return ast.NewArray(terms...)
	case opBuildSet:
		var buf [8]*ast.Term
		terms := buf[:0]
		for _, o := range ops {
			terms = append(terms, toOPA(read(fr, o)))
		}
		return ast.NewSet(terms...)
	}
	var buf [8][2]*ast.Term
	items := buf[:0]
	for i := 0; i+1 < len(ops); i += 2 {
		items = append(items, [2]*ast.Term{toOPA(read(fr, ops[i])), toOPA(read(fr, ops[i+1]))})
	}
	return ast.NewObject(items...)
}

// A literal that holds literals ({"openai": {...}, "gemini": {...}}) is
// planned as a make statement, then each inner literal's run, each
// followed by its insertion into the outer one: not a run. constNested
// finds, in a compiled function, a make (or a literal's first elements)
// followed only by constants and additions of constants to it, when those
// are all the additions to it in the function, and makes the collection a
// constant built at load.
func constNested(fn *function) {
	adds := map[int32]int{}
	var count func(bs []block)
	count = func(bs []block) {
		for _, b := range bs {
			for i := range b {
				if isAddition(b[i].op) {
					adds[b[i].dst]++
				}
				count(b[i].body)
			}
		}
	}
	count(fn.blocks)
	// The planner makes the outer collection before the inner ones: each
	// pass folds one more level.
	folded := true
	var fold func(bs []block)
	fold = func(bs []block) {
		for _, b := range bs {
			consts := map[int32]*ast.Term{}
			for i := range b {
				in := &b[i]
				fold(in.body)
				switch in.op {
				case opMakeArray, opMakeObject, opMakeSet, opBuildArray, opBuildObject, opBuildSet:
					folded = foldMake(b, i, consts, adds[in.dst]) || folded
				case opNop:
					continue
				}
				if in.op == opConst {
					consts[in.dst] = in.k
					continue
				}
				if in.body != nil {
					clear(consts)
				} else {
					delete(consts, in.dst)
				}
			}
		}
	}
	for folded {
		folded = false
		fold(fn.blocks)
	}
}

func isAddition(op opcode) bool {
	return op == opArrayAppend || op == opObjectInsert || op == opObjectInsertOnce || op == opSetAdd
}

// foldMake folds the make at b[i] and the constant additions after it
// into a constant, if they are all the additions to the collection, and
// reports whether it did.
func foldMake(b block, i int, consts map[int32]*ast.Term, adds int) bool {
	t, make := b[i].dst, b[i].op
	switch make { // a run cut short by an inner literal: its first elements
	case opBuildArray:
		make = opMakeArray
	case opBuildObject:
		make = opMakeObject
	case opBuildSet:
		make = opMakeSet
	}
	add := map[opcode]opcode{opMakeArray: opArrayAppend, opMakeObject: opObjectInsert, opMakeSet: opSetAdd}[make]
	known := map[int32]*ast.Term{}
	value := func(o operand) *ast.Term {
		if o.k != nil {
			return o.k
		}
		if k, ok := known[o.local]; ok {
			return k
		}
		return consts[o.local]
	}
	var seq []int
	var elems []*ast.Term // the elements; key, value pairs for an object
	for _, o := range b[i].args {
		v := value(o)
		if v == nil {
			return false
		}
		elems = append(elems, v)
	}
	for j := i + 1; j < len(b); j++ {
		in := &b[j]
		if in.op == opNop {
			continue
		}
		if in.op == opConst && in.dst != t {
			known[in.dst] = in.k
			continue
		}
		if in.op != add || in.dst != t {
			break
		}
		ops := []operand{in.a}
		if add == opObjectInsert {
			ops = append(ops, in.b)
		}
		for _, o := range ops {
			v := value(o)
			if v == nil {
				return false
			}
			elems = append(elems, v)
		}
		seq = append(seq, j)
	}
	if len(seq) != adds { // also a literal left empty ({}, set()): a constant
		return false
	}
	var v ast.Value
	switch make {
	case opMakeArray:
		v = ast.NewArray(elems...)
	case opMakeSet:
		v = ast.NewSet(elems...)
	default:
		obj := ast.NewObject()
		for k := 0; k < len(elems); k += 2 {
			obj.Insert(elems[k], elems[k+1])
		}
		v = obj
	}
	b[i] = instr{op: opConst, dst: t, k: ast.NewTerm(v), where: b[i].where}
	for _, j := range seq {
		b[j] = instr{op: opNop, where: b[j].where}
	}
	return true
}
