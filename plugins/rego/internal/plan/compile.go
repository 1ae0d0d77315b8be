package plan

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/ir"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// ErrUnsupported is wrapped by the errors of a plan this package does not
// evaluate; the query is then left to topdown.
var ErrUnsupported = errors.New("plan: not supported")

func unsupported(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrUnsupported, fmt.Sprintf(format, args...))
}

// topdownOnly are built-ins that need what only topdown gives them: the
// network and its caches, the runtime, tracers, a seeded random source.
// A plan calling one is evaluated by topdown.
var topdownOnly = []string{"http.send", "net.", "opa.runtime", "trace", "print", "internal.print",
	"rand.", "uuid.rfc4122", "io.jwt.encode_sign", "internal.test_case"}

// clockBuiltins read the evaluation's clock (BuiltinContext.Time).
var clockBuiltins = []string{"time.now_ns", "io.jwt.decode_verify", "crypto.x509.parse_and_verify_certificates"}

// Compile turns a plan with one query into a program. custom holds the
// built-ins that are not OPA's (tollgate's own), as topdown would be given
// them. A plan using a statement or built-in this package does not run is
// refused with an error wrapping ErrUnsupported.
func Compile(p *ir.Policy, custom map[string]*topdown.Builtin) (*Program, error) {
	if p.Plans == nil || len(p.Plans.Plans) != 1 {
		return nil, unsupported("want a plan of one query")
	}
	c := &compiler{policy: p, custom: custom, funcs: map[string]*function{}, builtins: map[string]*builtin{}}
	if p.Static != nil {
		for _, s := range p.Static.Strings {
			c.strings = append(c.strings, ast.StringTerm(s.Value))
		}
	}
	prog := &Program{}
	if p.Static != nil {
		for _, f := range p.Static.Files {
			prog.files = append(prog.files, f.Value)
		}
	}
	var irFuncs []*ir.Func
	if p.Funcs != nil {
		irFuncs = p.Funcs.Funcs
	}
	for i, f := range irFuncs {
		fn := &function{name: f.Name, id: i, ret: int32(f.Return), memo: len(f.Params) == 2}
		for _, l := range f.Params {
			fn.params = append(fn.params, int32(l))
		}
		c.funcs[f.Name] = fn
		prog.funcs = append(prog.funcs, fn)
	}
	for i, f := range irFuncs {
		if err := c.function(prog.funcs[i], f); err != nil {
			return nil, fmt.Errorf("function %s: %w", f.Name, err)
		}
	}
	main := &function{name: "main", id: -1, params: []int32{int32(ir.Input), int32(ir.Data)}}
	c.maxLocal = int32(ir.Data)
	c.mutated = mutated(p.Plans.Plans[0].Blocks)
	for _, b := range p.Plans.Plans[0].Blocks {
		cb, err := c.block(b)
		if err != nil {
			return nil, fmt.Errorf("plan: %w", err)
		}
		if escape(b) > 0 {
			return nil, unsupported("a break leaves the plan")
		}
		main.blocks = append(main.blocks, cb)
	}
	main.nlocals = int(c.maxLocal) + 1
	constNested(main)
	prog.main = main
	prog.resultKeys = tupleResult(main)
	var err error
	if prog.stackSize, err = depth(main, map[*function]int{}); err != nil {
		return nil, err
	}
	markDataDots(append([]*function{main}, prog.funcs...))
	prog.needsTime = c.needsTime
	prog.pool.init(prog)
	return prog, nil
}

type compiler struct {
	policy    *ir.Policy
	custom    map[string]*topdown.Builtin
	strings   []*ast.Term
	funcs     map[string]*function
	builtins  map[string]*builtin
	maxLocal  int32
	needsTime bool
	mutated   map[ir.Local]bool // of the function being compiled
}

// function compiles a planned function. Its last block must be the
// return of its result, as the planner makes it.
func (c *compiler) function(fn *function, f *ir.Func) error {
	n := len(f.Blocks)
	if n == 0 {
		return unsupported("no blocks")
	}
	last := f.Blocks[n-1].Stmts
	if r, ok := lastReturn(last); !ok || r.Source != f.Return {
		return unsupported("the last block is not the return of the result")
	}
	c.maxLocal = int32(f.Return)
	c.mutated = mutated(f.Blocks)
	for _, l := range f.Params {
		c.maxLocal = max(c.maxLocal, int32(l))
	}
	for _, b := range f.Blocks[:n-1] {
		if escape(b) > 0 {
			return unsupported("a break leaves the function")
		}
		cb, err := c.block(b)
		if err != nil {
			return err
		}
		fn.blocks = append(fn.blocks, cb)
	}
	fn.nlocals = int(c.maxLocal) + 1
	constNested(fn)
	return nil
}

func lastReturn(stmts []ir.Stmt) (*ir.ReturnLocalStmt, bool) {
	if len(stmts) != 1 {
		return nil, false
	}
	r, ok := stmts[0].(*ir.ReturnLocalStmt)
	return r, ok
}

// escape returns how many blocks beyond b a break in b leaves. Only block
// statements pass a break on; a break out of a not, scan or with body, a
// function or the plan is refused (the planner makes none).
func escape(b *ir.Block) int {
	out := 0
	for _, s := range b.Stmts {
		switch s := s.(type) {
		case *ir.BreakStmt:
			out = max(out, int(s.Index))
		case *ir.BlockStmt:
			for _, sub := range s.Blocks {
				out = max(out, escape(sub)-1)
			}
		}
	}
	return out
}

func (c *compiler) local(l ir.Local) int32 {
	c.maxLocal = max(c.maxLocal, int32(l))
	return int32(l)
}

func (c *compiler) operand(o ir.Operand) (operand, error) {
	switch v := o.Value.(type) {
	case ir.Local:
		return operand{local: c.local(v)}, nil
	case ir.StringIndex:
		if int(v) < 0 || int(v) >= len(c.strings) {
			return operand{}, unsupported("string index %d out of range", v)
		}
		return operand{k: c.strings[v]}, nil
	case ir.Bool:
		return operand{k: ast.InternedTerm(bool(v))}, nil
	}
	return operand{}, unsupported("operand %T", o.Value)
}

func (c *compiler) block(b *ir.Block) (block, error) {
	out := make(block, 0, len(b.Stmts))
	// consts are the locals holding a constant at this point of the block.
	consts := map[int32]*ast.Term{}
	for i := 0; i < len(b.Stmts); i++ {
		s := b.Stmts[i]
		var in instr
		var err error
		if n := runLength(b, i); n > 0 || isMake(s) && !c.mutated[makeTarget(s)] {
			in, err = c.literal(b, i, n, consts)
			i += n
		} else {
			in, err = c.stmt(s)
		}
		if err != nil {
			return nil, err
		}
		in.where = s.GetLocation()
		out = append(out, in)
		switch {
		case in.body != nil:
			clear(consts) // nested blocks may assign anything
		case in.op == opConst:
			consts[in.dst] = in.k
		default:
			delete(consts, in.dst)
		}
	}
	return out, nil
}

func isMake(s ir.Stmt) bool {
	switch s.(type) {
	case *ir.MakeArrayStmt, *ir.MakeObjectStmt, *ir.MakeSetStmt:
		return true
	}
	return false
}

func makeTarget(s ir.Stmt) ir.Local {
	switch s := s.(type) {
	case *ir.MakeArrayStmt:
		return s.Target
	case *ir.MakeObjectStmt:
		return s.Target
	case *ir.MakeSetStmt:
		return s.Target
	}
	return 0
}

// nested compiles the body of a not, scan or with statement.
func (c *compiler) nested(b *ir.Block) ([]block, error) {
	if escape(b) > 0 {
		return nil, unsupported("a break leaves a nested body")
	}
	cb, err := c.block(b)
	return []block{cb}, err
}

func (c *compiler) stmt(s ir.Stmt) (instr, error) {
	var err error
	two := func(a, b ir.Operand) (operand, operand) {
		x, e1 := c.operand(a)
		y, e2 := c.operand(b)
		err = errors.Join(e1, e2)
		return x, y
	}
	var in instr
	switch s := s.(type) {
	case *ir.NopStmt:
		in = instr{op: opNop}
	case *ir.AssignVarStmt:
		in = instr{op: opAssign, dst: c.local(s.Target)}
		in.a, err = c.operand(s.Source)
	case *ir.AssignVarOnceStmt:
		in = instr{op: opAssignOnce, dst: c.local(s.Target)}
		in.a, err = c.operand(s.Source)
	case *ir.AssignIntStmt:
		in = instr{op: opConst, dst: c.local(s.Target), k: ast.InternedTerm(int(s.Value))}
	case *ir.MakeNumberIntStmt:
		in = instr{op: opConst, dst: c.local(s.Target), k: ast.InternedTerm(int(s.Value))}
	case *ir.MakeNumberRefStmt:
		if s.Index < 0 || s.Index >= len(c.strings) {
			return in, unsupported("number index %d out of range", s.Index)
		}
		in = instr{op: opConst, dst: c.local(s.Target), k: ast.NumberTerm(json.Number(c.strings[s.Index].Value.(ast.String)))}
	case *ir.MakeNullStmt:
		in = instr{op: opConst, dst: c.local(s.Target), k: ast.InternedNullTerm}
	case *ir.ResetLocalStmt:
		in = instr{op: opReset, dst: c.local(s.Target)}
	case *ir.MakeArrayStmt:
		in = instr{op: opMakeArray, dst: c.local(s.Target), n: int(max(s.Capacity, 0))}
	case *ir.MakeObjectStmt:
		in = instr{op: opMakeObject, dst: c.local(s.Target)}
	case *ir.MakeSetStmt:
		in = instr{op: opMakeSet, dst: c.local(s.Target)}
	case *ir.DotStmt:
		in = instr{op: opDot, dst: c.local(s.Target)}
		in.a, in.b = two(s.Source, s.Key)
	case *ir.LenStmt:
		in = instr{op: opLen, dst: c.local(s.Target)}
		in.a, err = c.operand(s.Source)
	case *ir.EqualStmt:
		in = instr{op: opEqual}
		in.a, in.b = two(s.A, s.B)
	case *ir.NotEqualStmt:
		in = instr{op: opNotEqual}
		in.a, in.b = two(s.A, s.B)
	case *ir.IsArrayStmt:
		in = instr{op: opIsArray}
		in.a, err = c.operand(s.Source)
	case *ir.IsObjectStmt:
		in = instr{op: opIsObject}
		in.a, err = c.operand(s.Source)
	case *ir.IsSetStmt:
		in = instr{op: opIsSet}
		in.a, err = c.operand(s.Source)
	case *ir.IsDefinedStmt:
		in = instr{op: opIsDefined, a: operand{local: c.local(s.Source)}}
	case *ir.IsUndefinedStmt:
		in = instr{op: opIsUndefined, a: operand{local: c.local(s.Source)}}
	case *ir.ArrayAppendStmt:
		in = instr{op: opArrayAppend, dst: c.local(s.Array)}
		in.a, err = c.operand(s.Value)
	case *ir.ObjectInsertStmt:
		in = instr{op: opObjectInsert, dst: c.local(s.Object)}
		in.a, in.b = two(s.Key, s.Value)
	case *ir.ObjectInsertOnceStmt:
		in = instr{op: opObjectInsertOnce, dst: c.local(s.Object)}
		in.a, in.b = two(s.Key, s.Value)
	case *ir.SetAddStmt:
		in = instr{op: opSetAdd, dst: c.local(s.Set)}
		in.a, err = c.operand(s.Value)
	case *ir.BlockStmt:
		in = instr{op: opBlock}
		for _, b := range s.Blocks {
			cb, e := c.block(b)
			if e != nil {
				return in, e
			}
			in.body = append(in.body, cb)
		}
	case *ir.BreakStmt:
		in = instr{op: opBreak, n: int(s.Index)}
	case *ir.NotStmt:
		in = instr{op: opNot}
		in.body, err = c.nested(s.Block)
	case *ir.ScanStmt:
		in = instr{op: opScan, key: c.local(s.Key), val: c.local(s.Value), a: operand{local: c.local(s.Source)}}
		in.body, err = c.nested(s.Block)
	case *ir.ObjectMergeStmt:
		in = instr{op: opObjectMerge, dst: c.local(s.Target), a: operand{local: c.local(s.A)}, b: operand{local: c.local(s.B)}}
	case *ir.CallStmt:
		in, err = c.call(s)
	case *ir.ResultSetAddStmt:
		in = instr{op: opResult, a: operand{local: c.local(s.Value)}}
	default:
		// WithStmt, CallDynamicStmt, ReturnLocalStmt
		// outside a function's last block, and anything newer.
		return in, unsupported("statement %T", s)
	}
	return in, err
}

func (c *compiler) call(s *ir.CallStmt) (instr, error) {
	in := instr{dst: c.local(s.Result)}
	for _, a := range s.Args {
		o, err := c.operand(a)
		if err != nil {
			return in, err
		}
		in.args = append(in.args, o)
	}
	if fn, ok := c.funcs[s.Func]; ok {
		if len(in.args) != len(fn.params) {
			return in, unsupported("call of %s with %d arguments, want %d", s.Func, len(in.args), len(fn.params))
		}
		in.op, in.fn = opCall, fn
		return in, nil
	}
	bi, err := c.builtin(s.Func)
	if err != nil {
		return in, err
	}
	if len(in.args) != len(bi.decl.Decl.FuncArgs().Args) {
		return in, unsupported("call of %s with %d arguments", s.Func, len(in.args))
	}
	in.op, in.bi = opBuiltin, bi
	return in, nil
}

// builtin resolves a built-in as topdown does: OPA's own first, then the
// custom ones.
func (c *compiler) builtin(name string) (*builtin, error) {
	if bi, ok := c.builtins[name]; ok {
		return bi, nil
	}
	for _, p := range topdownOnly {
		if name == p || strings.HasSuffix(p, ".") && strings.HasPrefix(name, p) {
			return nil, unsupported("built-in %s needs topdown", name)
		}
	}
	var bi *builtin
	if decl, ok := ast.BuiltinMap[name]; ok && topdown.GetBuiltin(name) != nil {
		bi = &builtin{name: name, decl: decl, f: specialise(name, topdown.GetBuiltin(name)), own: ownNative(name)}
	} else if b, ok := c.custom[name]; ok {
		bi = &builtin{name: name, decl: b.Decl, f: b.Func}
	} else {
		return nil, unsupported("unknown built-in %s", name)
	}
	switch {
	case bi.decl.Relation:
		return nil, unsupported("built-in %s is a relation", name)
	case bi.decl.Decl.Result() == nil:
		return nil, unsupported("built-in %s returns nothing", name)
	case bi.decl.Nondeterministic && name != "time.now_ns":
		return nil, unsupported("built-in %s is non-deterministic", name)
	}
	for _, p := range clockBuiltins {
		if strings.HasPrefix(name, p) {
			c.needsTime = true
		}
	}
	c.builtins[name] = bi
	return bi, nil
}

// depth returns the locals a call of fn can need at once: its own and
// those of its deepest chain of callees.
func depth(fn *function, seen map[*function]int) (int, error) {
	if d, ok := seen[fn]; ok {
		if d < 0 {
			return 0, unsupported("recursive call of %s", fn.name)
		}
		return d, nil
	}
	seen[fn] = -1
	deepest := 0
	var walk func(bs []block) error
	walk = func(bs []block) error {
		for _, b := range bs {
			for i := range b {
				in := &b[i]
				if in.fn != nil {
					d, err := depth(in.fn, seen)
					if err != nil {
						return err
					}
					deepest = max(deepest, d)
				}
				if err := walk(in.body); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := walk(fn.blocks); err != nil {
		return 0, err
	}
	fn.depth = fn.nlocals + deepest
	seen[fn] = fn.depth
	return fn.depth, nil
}
