package plan

import (
	"sync/atomic"

	"github.com/open-policy-agent/opa/v1/ast"
)

// A lookup in data by constant keys (data.tollgate.guardrails.pii.deny,
// the base documents the plan looks for beside every rule) gives the same
// value on every call with the same data, and data does not change
// between calls (the stage's data is one value per generation). Such a
// lookup keeps its last answer with the data term it was made on, and
// answers from it while the data term is the same: no key hashed, no map
// read.
//
// A local qualifies when its one writer in its function is a lookup by a
// constant key in data (local 1) or in a local that qualifies: its value,
// when set, is then a function of data alone. Local 1 must be data in
// every function: every call passes its caller's data, and nothing
// writes local 1.

// dataDot is a lookup's last answer.
type dataDot struct {
	last atomic.Pointer[dataDotEntry]
}

type dataDotEntry struct {
	data, val *ast.Term
}

// markDataDots marks the lookups in data by constant keys of every
// function, if every function's local 1 is data.
func markDataDots(fns []*function) {
	for _, fn := range fns {
		if len(fn.params) < 2 || fn.params[1] != 1 {
			return
		}
		ok := true
		walkInstrs(fn.blocks, func(in *instr) {
			if in.dst == 1 || (in.op == opScan && (in.key == 1 || in.val == 1)) {
				ok = false
			}
			if in.op == opCall && (len(in.args) < 2 || in.args[1].k != nil || in.args[1].local != 1) {
				ok = false
			}
		})
		if !ok {
			return
		}
	}
	for _, fn := range fns {
		markFunction(fn)
	}
}

func markFunction(fn *function) {
	writers := map[int32][]*instr{}
	walkInstrs(fn.blocks, func(in *instr) {
		writers[in.dst] = append(writers[in.dst], in)
		if in.op == opScan {
			writers[in.key] = append(writers[in.key], in)
			writers[in.val] = append(writers[in.val], in)
		}
	})
	for _, p := range fn.params {
		writers[p] = append(writers[p], nil)
	}
	// qualifies answers whether a local's one writer is a lookup by a
	// constant key in data or in a local that qualifies.
	memo := map[int32]bool{}
	var qualifies func(l int32, depth int) bool
	qualifies = func(l int32, depth int) bool {
		if l == 1 {
			return true
		}
		if q, ok := memo[l]; ok {
			return q
		}
		memo[l] = false // a cycle does not qualify
		ws := writers[l]
		q := depth < 64 && len(ws) == 1 && ws[0] != nil && ws[0].op == opDot &&
			ws[0].a.k == nil && ws[0].b.k != nil && qualifies(ws[0].a.local, depth+1)
		memo[l] = q
		return q
	}
	walkInstrs(fn.blocks, func(in *instr) {
		if in.op == opDot && in.a.k == nil && in.b.k != nil && qualifies(in.a.local, 0) {
			in.data = &dataDot{}
		}
	})
}

func walkInstrs(bs []block, f func(in *instr)) {
	for _, b := range bs {
		for i := range b {
			f(&b[i])
			walkInstrs(b[i].body, f)
		}
	}
}

// dataDot looks a key up in a value of data, from the lookup's last
// answer when it was made on the same data.
func (m *machine) dataDot(fr []*ast.Term, in *instr) *ast.Term {
	src := fr[in.a.local]
	if src == nil {
		return nil
	}
	if e := in.data.last.Load(); e != nil && e.data == m.data {
		return e.val
	}
	v := dot(src, in.b.k)
	in.data.last.Store(&dataDotEntry{data: m.data, val: v})
	return v
}
