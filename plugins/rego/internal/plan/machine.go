package plan

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/metrics"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// Env is what one evaluation reads besides the program.
type Env struct {
	Input *ast.Term
	Data  *ast.Term
	// Cancel, if set, is polled between scan steps and function calls: a
	// cancelled evaluation fails with a topdown.Error of code CancelErr.
	Cancel topdown.Cancel
	// Capabilities are handed to built-ins, as topdown does.
	Capabilities *ast.Capabilities
}

// Eval evaluates the program. It returns the query's result (the first, if
// the query had more) and how many distinct results there were.
func (p *Program) Eval(ctx context.Context, env Env) (res Result, n int, err error) {
	m := p.pool.get()
	defer func() {
		if r := recover(); r != nil {
			res, n, err = Result{}, 0, fmt.Errorf("plan: evaluation failed: %v", r)
			return // the machine is dropped, not pooled: its state is unknown
		}
		m.release()
	}()
	m.start(ctx, &env)
	main := p.main
	fr := m.stack[:main.nlocals:main.nlocals]
	m.sp = main.nlocals
	fr[0], fr[1] = env.Input, env.Data
	for _, b := range main.blocks {
		if _, err := m.run(fr, b); err != nil {
			return Result{}, 0, err
		}
	}
	if len(m.tuples) > 0 {
		return Result{keys: p.resultKeys, vals: m.tuples[0]}, len(m.tuples), nil
	}
	if len(m.results) == 0 {
		return Result{}, 0, nil
	}
	return Result{term: m.results[0]}, len(m.results), nil
}

// machine is one evaluation's state, pooled per program.
type machine struct {
	prog  *Program
	stack []*ast.Term // every active call's locals, back to back
	sp    int
	memo  []*ast.Term
	done  []bool
	args  []*ast.Term // a built-in call's operands
	out   *ast.Term   // a built-in's result
	emit  func(*ast.Term) error
	bctx  topdown.BuiltinContext
	ctx   context.Context
	stop  topdown.Cancel
	ticks int

	results []*ast.Term
	tuples  [][]*ast.Term // the results of a tuple result (result.go)
	scans   []scanFrame   // the object scans in progress
	objStep func(k, v *ast.Term) bool
	err     error
	data    *ast.Term // the evaluation's data
	// slab holds terms not yet handed out (newTerm); objects, pairs and
	// arrays hold the evaluator's own values not yet handed out (own.go).
	slab    []ast.Term
	objects []ownObject
	pairs   [][2]*ast.Term
	arrays  []ownArray
	// formatted are the last answers of format_int (formatint.go).
	formatted     [formatted]formattedInt
	nextFormatted int
}

type scanFrame struct {
	fr []*ast.Term
	in *instr
}

type machinePool struct {
	pool sync.Pool
}

func (mp *machinePool) init(p *Program) {
	mp.pool.New = func() any {
		m := &machine{prog: p, stack: make([]*ast.Term, p.stackSize), memo: make([]*ast.Term, len(p.funcs)),
			done: make([]bool, len(p.funcs)), args: make([]*ast.Term, 0, 8)}
		m.emit = m.capture
		m.objStep = m.objectStep
		return m
	}
}

func (mp *machinePool) get() *machine { return mp.pool.Get().(*machine) }

var noMetrics = metrics.NoOp()

func (m *machine) start(ctx context.Context, env *Env) {
	m.ctx, m.stop, m.data = ctx, env.Cancel, env.Data
	m.bctx = topdown.BuiltinContext{Context: ctx, Metrics: noMetrics, Cancel: env.Cancel, Capabilities: env.Capabilities}
	if m.prog.needsTime {
		m.bctx.Time = ast.NumberTerm(jsonInt(time.Now().UnixNano()))
	}
}

func (m *machine) release() {
	clear(m.stack[:m.prog.main.nlocals]) // a call clears its own locals as it returns
	clear(m.memo)
	clear(m.done)
	clear(m.results)
	m.results = m.results[:0]
	clear(m.tuples)
	m.tuples = m.tuples[:0]
	m.sp, m.ticks, m.out, m.err, m.ctx, m.stop, m.data = 0, 0, nil, nil, nil, nil, nil
	m.bctx = topdown.BuiltinContext{}
	m.prog.pool.pool.Put(m)
}

// slabSize is how many terms newTerm allocates at once: one allocation
// for the collections of several evaluations, and at most this many terms
// kept alive by one term that outlives its evaluation (a cached decision).
const slabSize = 32

// newTerm returns a new term holding v, taken from the machine's slab. A
// term handed out is never handed out again: the slab's rest, which no one
// else references, is kept with the pooled machine for the next
// evaluations, and the terms handed out live on as long as they are
// referenced, like terms allocated one by one.
func (m *machine) newTerm(v ast.Value) *ast.Term {
	if len(m.slab) == 0 {
		m.slab = make([]ast.Term, slabSize)
	}
	t := &m.slab[0]
	m.slab = m.slab[1:]
	t.Value = v
	return t
}

// newObject returns an own object with room for n pairs, from the
// machine's slabs (handed out once, as newTerm's terms).
func (m *machine) newObject(n int) *ownObject {
	if len(m.objects) == 0 {
		m.objects = make([]ownObject, slabSize/2)
	}
	o := &m.objects[0]
	m.objects = m.objects[1:]
	switch {
	case n > slabSize/4:
		o.pairs = make([][2]*ast.Term, 0, n)
	default:
		if len(m.pairs) < n {
			m.pairs = make([][2]*ast.Term, slabSize)
		}
		o.pairs = m.pairs[:0:n]
		m.pairs = m.pairs[n:]
	}
	return o
}

// newArray returns an empty own array from the machine's slab.
func (m *machine) newArray() *ownArray {
	if len(m.arrays) == 0 {
		m.arrays = make([]ownArray, slabSize/4)
	}
	a := &m.arrays[0]
	m.arrays = m.arrays[1:]
	a.elems = a.buf[:0]
	return a
}

// insertOwn inserts a pair with a string key into an object the plan
// built as the evaluator's own (a literal holding literals is built,
// then added to).
func insertOwn(in *instr, o *ownObject, k, v *ast.Term) error {
	if v == nil {
		return internal(in, "insert an undefined value")
	}
	if in.op == opObjectInsertOnce {
		if cur := o.get(k); cur != nil && !equal(cur, v) {
			return conflict(in, "object keys must be unique")
		}
	}
	o.put(k, v)
	return nil
}

// buildObject builds a literal object with string keys as the
// evaluator's own: its pairs put one by one, as the insertions the plan
// made of the literal. Other keys make OPA's object.
func (m *machine) buildObject(ops []operand, fr []*ast.Term) *ast.Term {
	if !stringKeys(ops, fr) {
		return m.newTerm(build(opBuildObject, ops, fr))
	}
	o := m.newObject(len(ops) / 2)
	for i := 0; i+1 < len(ops); i += 2 {
		o.put(read(fr, ops[i]), read(fr, ops[i+1]))
	}
	return m.newTerm(o)
}

func (m *machine) capture(t *ast.Term) error {
	m.out = t
	return nil
}

// errCancelled is what a cancelled evaluation fails with, as topdown's.
var errCancelled = &topdown.Error{Code: topdown.CancelErr, Message: "caller cancelled query execution"}

// tick polls the cancel flag, and now and then the context.
func (m *machine) tick() error {
	m.ticks++
	if m.stop != nil && m.stop.Cancelled() {
		return errCancelled
	}
	if m.ticks&1023 == 0 && m.ctx != nil && m.ctx.Err() != nil {
		return errCancelled
	}
	return nil
}

func read(fr []*ast.Term, o operand) *ast.Term {
	if o.k != nil {
		return o.k
	}
	return fr[o.local]
}

// run runs a block. It returns -1 when every statement ran, 0 when one
// was undefined (or a break left only this block), and n > 0 when a break
// leaves n more enclosing blocks.
func (m *machine) run(fr []*ast.Term, b block) (int, error) {
	for i := range b {
		in := &b[i]
		switch in.op {
		case opNop:
		case opAssign:
			fr[in.dst] = read(fr, in.a)
		case opAssignOnce:
			v := read(fr, in.a)
			if cur := fr[in.dst]; cur != nil && !equal(cur, v) {
				return 0, conflict(in, "complete rules must not produce multiple outputs")
			}
			fr[in.dst] = v
		case opConst:
			fr[in.dst] = in.k
		case opReset:
			fr[in.dst] = nil
		case opMakeArray:
			fr[in.dst] = m.newTerm(emptyArray)
		case opMakeObject:
			fr[in.dst] = m.newTerm(emptyObject)
		case opMakeSet:
			fr[in.dst] = m.newTerm(emptySet)
		case opDot:
			var v *ast.Term
			if in.data != nil {
				v = m.dataDot(fr, in)
			} else {
				v = dot(read(fr, in.a), read(fr, in.b))
			}
			if v == nil {
				return 0, nil
			}
			fr[in.dst] = v
		case opLen:
			n, ok := length(read(fr, in.a))
			if !ok {
				return 0, nil
			}
			fr[in.dst] = ast.InternedTerm(n)
		case opEqual:
			if !equal(read(fr, in.a), read(fr, in.b)) {
				return 0, nil
			}
		case opNotEqual:
			if equal(read(fr, in.a), read(fr, in.b)) {
				return 0, nil
			}
		case opIsArray:
			if kind(valueOf(read(fr, in.a))) != 2 {
				return 0, nil
			}
		case opIsObject:
			if kind(valueOf(read(fr, in.a))) != 1 {
				return 0, nil
			}
		case opIsSet:
			if !isA[ast.Set](read(fr, in.a)) {
				return 0, nil
			}
		case opIsDefined:
			if fr[in.a.local] == nil {
				return 0, nil
			}
		case opIsUndefined:
			if fr[in.a.local] != nil {
				return 0, nil
			}
		case opArrayAppend:
			t, v := fr[in.dst], read(fr, in.a)
			if v == nil {
				return 0, internal(in, "append an undefined value")
			}
			switch arr := t.Value.(type) {
			case *ownArray:
				arr.elems = append(arr.elems, v)
			case *ast.Array:
				if t.Value == emptyArray {
					a := m.newArray()
					a.elems = append(a.elems, v)
					t.Value = a
					break
				}
				t.Value = arr.Append(toOPA(v)) // the term is the array's one reference
			default:
				return 0, internal(in, "append to a %T", t.Value)
			}
		case opObjectInsert, opObjectInsertOnce:
			if own, ok := fr[in.dst].Value.(*ownObject); ok {
				if k := read(fr, in.a); isA[ast.String](k) {
					if err := insertOwn(in, own, k, read(fr, in.b)); err != nil {
						return 0, err
					}
					break
				}
				fr[in.dst].Value = opaValue(own) // other keys are OPA's: so is the object
			}
			obj, ok := fr[in.dst].Value.(ast.Object)
			k, v := toOPA(read(fr, in.a)), toOPA(read(fr, in.b))
			if !ok || k == nil || v == nil {
				return 0, internal(in, "insert into a %T", fr[in.dst].Value)
			}
			if in.op == opObjectInsertOnce {
				if cur := obj.Get(k); cur != nil && !equal(cur, v) {
					return 0, conflict(in, "object keys must be unique")
				}
			}
			if obj == emptyObject {
				fr[in.dst].Value = ast.NewObject([2]*ast.Term{k, v})
				break
			}
			obj.Insert(k, v)
		case opSetAdd:
			set, ok := fr[in.dst].Value.(ast.Set)
			v := toOPA(read(fr, in.a))
			if !ok || v == nil {
				return 0, internal(in, "add to a %T", fr[in.dst].Value)
			}
			if set == emptySet {
				fr[in.dst].Value = ast.NewSet(v)
				break
			}
			set.Add(v)
		case opBuildObject:
			fr[in.dst] = m.buildObject(in.args, fr)
		case opBuildArray, opBuildSet:
			fr[in.dst] = m.newTerm(build(in.op, in.args, fr))
		case opObjectMerge:
			fr[in.dst] = merge(fr[in.a.local], fr[in.b.local])
		case opBlock:
			for _, sub := range in.body {
				n, err := m.run(fr, sub)
				if err != nil {
					return 0, err
				}
				if n > 0 {
					return n - 1, nil
				}
			}
		case opBreak:
			return in.n, nil
		case opNot:
			n, err := m.run(fr, in.body[0])
			if err != nil {
				return 0, err
			}
			if n < 0 {
				return 0, nil // the body held: not is undefined
			}
		case opScan:
			if err := m.scan(fr, in); err != nil {
				return 0, err
			}
		case opCall:
			v, err := m.call(in.fn, fr, in.args)
			if err != nil {
				return 0, err
			}
			if v == nil {
				return 0, nil
			}
			fr[in.dst] = v
		case opBuiltin:
			v, err := m.builtin(in, fr)
			if err != nil {
				return 0, err
			}
			if v == nil {
				return 0, nil
			}
			fr[in.dst] = v
		case opResult:
			m.result(fr[in.a.local])
		case opResultTuple:
			m.tuple(fr, in.args)
		}
	}
	return -1, nil
}

// call runs a planned function; a rule without arguments runs once per
// evaluation.
func (m *machine) call(fn *function, caller []*ast.Term, args []operand) (*ast.Term, error) {
	if fn.memo && m.done[fn.id] {
		return m.memo[fn.id], nil
	}
	if err := m.tick(); err != nil {
		return nil, err
	}
	base := m.sp
	fr := m.stack[base : base+fn.nlocals : base+fn.nlocals]
	m.sp += fn.nlocals
	for i, p := range fn.params {
		fr[p] = read(caller, args[i])
	}
	var err error
	for _, b := range fn.blocks {
		if _, err = m.run(fr, b); err != nil {
			break
		}
	}
	ret := fr[fn.ret]
	clear(fr)
	m.sp = base
	if err != nil {
		return nil, err
	}
	if fn.memo {
		m.memo[fn.id], m.done[fn.id] = ret, true
	}
	return ret, nil
}

// builtin calls a built-in as topdown does with strict built-in errors:
// an error fails the evaluation, naming the built-in and where the policy
// calls it.
func (m *machine) builtin(in *instr, fr []*ast.Term) (*ast.Term, error) {
	args := m.args[:0]
	for _, a := range in.args {
		v := read(fr, a)
		if v == nil {
			clear(args)
			return nil, nil
		}
		args = append(args, v)
	}
	if in.bi.own != nil {
		if out := in.bi.own(m, args); out != nil {
			clear(args)
			m.args = args[:0]
			return out, nil
		}
	}
	for i, v := range args {
		args[i] = toOPA(v)
	}
	m.out = nil
	err := in.bi.f(m.bctx, args, m.emit)
	clear(args)
	m.args = args[:0]
	out := m.out
	m.out = nil
	if err != nil {
		if h, ok := err.(topdown.Halt); ok {
			return nil, h.Err
		}
		return nil, m.builtinError(in, err)
	}
	return out, nil
}

// builtinError is a built-in's error as topdown reports it in strict mode:
// a topdown.Error with the built-in's name and the call's location.
func (m *machine) builtinError(in *instr, err error) error {
	e := &topdown.Error{Code: topdown.BuiltinErr, Message: in.bi.name + ": " + err.Error()}
	var te *topdown.Error
	if errors.As(err, &te) {
		e.Code, e.Message, e.Location = te.Code, te.Message, te.Location
	}
	if e.Location == nil && in.where != nil {
		e.Location = &ast.Location{File: m.prog.file(in.where.File), Row: in.where.Row, Col: in.where.Col}
	}
	return e.Wrap(err)
}

func (m *machine) result(t *ast.Term) {
	if t == nil {
		return
	}
	for _, r := range m.results {
		if equal(r, t) {
			return
		}
	}
	m.results = append(m.results, t)
}

// tuple records a tuple result: its values, if no result before had the
// same.
func (m *machine) tuple(fr []*ast.Term, ops []operand) {
next:
	for _, t := range m.tuples {
		for i, o := range ops {
			if !equal(t[i], read(fr, o)) {
				continue next
			}
		}
		return
	}
	vals := make([]*ast.Term, len(ops))
	for i, o := range ops {
		vals[i] = read(fr, o)
	}
	m.tuples = append(m.tuples, vals)
}

// scan runs a scan's body for each element of a collection, in topdown's
// order: arrays by index, objects and sets in sorted order.
func (m *machine) scan(fr []*ast.Term, in *instr) error {
	src := fr[in.a.local]
	if src == nil {
		return nil
	}
	switch v := src.Value.(type) {
	case *ownArray:
		for i := 0; i < len(v.elems); i++ {
			if err := m.step(fr, in, ast.InternedTerm(i), v.elems[i]); err != nil {
				return err
			}
		}
	case *ownObject:
		for _, p := range v.pairs {
			if err := m.step(fr, in, p[0], p[1]); err != nil {
				return err
			}
		}
	case *ast.Array:
		for i := 0; i < v.Len(); i++ {
			if err := m.step(fr, in, ast.InternedTerm(i), v.Elem(i)); err != nil {
				return err
			}
		}
	case ast.Set:
		for _, e := range v.Slice() {
			if err := m.step(fr, in, e, e); err != nil {
				return err
			}
		}
	case ast.Object:
		m.scans = append(m.scans, scanFrame{fr, in})
		v.Until(m.objStep)
		m.scans[len(m.scans)-1] = scanFrame{}
		m.scans = m.scans[:len(m.scans)-1]
		err := m.err
		m.err = nil
		return err
	}
	return nil
}

// objectStep is a step of the innermost object scan (a method value made
// once per machine, so that a scan allocates no closure).
func (m *machine) objectStep(k, v *ast.Term) bool {
	top := m.scans[len(m.scans)-1]
	if err := m.step(top.fr, top.in, k, v); err != nil {
		m.err = err
		return true
	}
	return false
}

func (m *machine) step(fr []*ast.Term, in *instr, k, v *ast.Term) error {
	if err := m.tick(); err != nil {
		return err
	}
	fr[in.key], fr[in.val] = k, v
	_, err := m.run(fr, in.body[0])
	return err
}

// A collection a plan makes starts as a shared empty value, replaced by a
// collection of its own at its first element: the sets and objects of
// rules that stay empty on most calls (deny) then cost one term. The
// shared values are never mutated.
var (
	emptyArray  ast.Value = ast.NewArray()
	emptyObject ast.Value = ast.NewObject()
	emptySet    ast.Value = ast.NewSet()
)

func conflict(in *instr, msg string) error {
	return &topdown.Error{Code: topdown.ConflictErr, Message: msg + where(in)}
}

func internal(in *instr, format string, args ...any) error {
	return fmt.Errorf("plan: "+format+where(in), args...)
}

func where(in *instr) string {
	if in.where == nil || in.where.Row == 0 {
		return ""
	}
	return fmt.Sprintf(" (%d:%d: %s)", in.where.Row, in.where.Col, in.where.Text)
}

func jsonInt(n int64) (s jsonNumber) { return jsonNumber(strconv.FormatInt(n, 10)) }
