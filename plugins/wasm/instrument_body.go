package wasm

import "fmt"

// rewriter adds the checks of instrument to each function body.
type rewriter struct {
	refuel, fuel, growFailed uint32 // function and global indices
	added                    checks
}

// slot is a fuel check whose cost is known only at the end of its region:
// at is the offset of its padded i32.const immediate, n the instructions
// counted so far.
type slot struct{ at, n int }

// code rewrites every function body of a code section.
func (rw *rewriter) code(sec []byte, params []uint32) ([]byte, error) {
	r := &reader{b: sec}
	count := r.u32()
	if int(count) != len(params) {
		return nil, fmt.Errorf("%d function bodies for %d functions", count, len(params))
	}
	out := appendU32(make([]byte, 0, len(sec)+len(sec)/8), count)
	var body []byte
	for f := range count {
		size := r.u32()
		fb := r.bytes(int(size))
		if r.err != nil {
			return nil, fmt.Errorf("function %d: %w", f, r.err)
		}
		var err error
		if body, err = rw.body(body[:0], fb, params[f]); err != nil {
			return nil, fmt.Errorf("function %d: %w", f, err)
		}
		out = appendU32(out, uint32(len(body)))
		out = append(out, body...)
	}
	return out, nil
}

// body appends fb with the checks added: at entry, at each loop head,
// before each bulk operation, and a flag after each memory.grow.
func (rw *rewriter) body(out, fb []byte, params uint32) ([]byte, error) {
	r := &reader{b: fb}
	groups := r.u32()
	groupsEnd := r.off
	locals := uint64(params)
	for range groups {
		locals += r.u64()
		r.valtype()
	}
	if r.err != nil {
		return nil, fmt.Errorf("locals: %w", r.err)
	}
	if locals >= 1<<32-1 {
		return nil, fmt.Errorf("%d locals: too many to add one", locals)
	}
	scratch := uint32(locals) // the local a bulk operation's length goes through
	localsEnd := r.off

	var code []byte
	slots := []slot{{}} // slot 0: the function's instructions outside loops
	merged := opensWithLoop(fb[localsEnd:])
	if !merged {
		code, slots[0].at = rw.appendCheck(code)
		rw.added.entries++
	}
	frames := []int{0} // the slot each open block counts into; the body is one
	cur, useScratch, start := 0, false, localsEnd
	for r.off < len(fb) && len(frames) > 0 {
		at := r.off
		op := r.byte()
		slots[cur].n++
		if op == 0xFC && bulkOp(r) {
			code = append(code, fb[start:at]...)
			code = rw.appendBulkCheck(code, scratch)
			start, useScratch = at, true
			rw.added.bulk++
		}
		if err := r.skipImmediates(op); err != nil {
			return nil, err
		}
		switch op {
		case 0x02, 0x04, 0x06, 0x1F: // block if try try_table
			frames = append(frames, cur)
		case 0x03: // loop
			code = append(code, fb[start:r.off]...)
			start = r.off
			if merged {
				merged = false // the first loop's check is the entry check
			} else {
				cur = len(slots)
				slots = append(slots, slot{})
				rw.added.loops++
			}
			code, slots[cur].at = rw.appendCheck(code)
			frames = append(frames, cur)
		case 0x0B, 0x18: // end, delegate
			frames = frames[:len(frames)-1]
			if len(frames) > 0 {
				cur = frames[len(frames)-1]
			}
		case 0x40: // memory.grow
			code = append(code, fb[start:r.off]...)
			code = rw.appendGrowFlag(code, scratch)
			start, useScratch = r.off, true
			rw.added.grows++
		}
	}
	if len(frames) > 0 || r.off != len(fb) {
		return nil, fmt.Errorf("the body does not end where its size says")
	}
	code = append(code, fb[start:]...)
	if opensWithLoop(fb[localsEnd:]) {
		slots[0].n = min(slots[0].n, dispatchCost)
	}
	for _, s := range slots {
		putSLEB5(code[s.at:], int32(min(s.n, 1<<30)))
	}
	if !useScratch {
		out = append(out, fb[:localsEnd]...)
	} else {
		out = appendU32(out, groups+1)
		out = append(out, fb[groupsEnd:localsEnd]...)
		out = append(out, 0x01, 0x7F) // one i32
	}
	return append(out, code...), nil
}

// dispatchCost is what one pass of a Go function's opening loop costs. Go
// compiles a function to one loop around a br_table, and every jump in the
// function goes back to its head: charged the whole function, a tight Go
// loop would run out of fuel every few hundred iterations. At 16 units,
// 2^16 jumps make a budget, as many as loop iterations did before fuel was
// weighted.
const dispatchCost = 16

// appendCheck appends a fuel check with a cost to be patched at the
// returned offset.
func (rw *rewriter) appendCheck(code []byte) ([]byte, int) {
	code = append(code, 0x23) // global.get $fuel
	code = appendU32(code, rw.fuel)
	code = append(code, 0x41) // i32.const cost
	at := len(code)
	code = append(code, 0, 0, 0, 0, 0)
	code = append(code, 0x6B, 0x24) // i32.sub global.set $fuel
	code = appendU32(code, rw.fuel)
	return rw.appendRefuelIfEmpty(code), at
}

// appendBulkCheck takes the length on top of the stack, kept there through
// the scratch local, as the cost.
func (rw *rewriter) appendBulkCheck(code []byte, scratch uint32) []byte {
	code = append(code, 0x22) // local.tee $scratch
	code = appendU32(code, scratch)
	code = append(code, 0x23) // global.get $fuel
	code = appendU32(code, rw.fuel)
	code = append(code, 0x20) // local.get $scratch
	code = appendU32(code, scratch)
	code = append(code, 0x41, bulkShift, 0x76, 0x6B, 0x24) // i32.const shift i32.shr_u i32.sub global.set $fuel
	code = appendU32(code, rw.fuel)
	return rw.appendRefuelIfEmpty(code)
}

// appendRefuelIfEmpty appends: if fuel <= 0 { call $refuel }.
func (rw *rewriter) appendRefuelIfEmpty(code []byte) []byte {
	code = append(code, 0x23) // global.get $fuel
	code = appendU32(code, rw.fuel)
	code = append(code, 0x41, 0x00, 0x4C, 0x04, 0x40, 0x10) // i32.const 0 i32.le_s if call
	code = appendU32(code, rw.refuel)
	return append(code, 0x0B)
}

// appendGrowFlag sets $growFailed when the memory.grow just run returned
// -1, keeping its result on the stack.
func (rw *rewriter) appendGrowFlag(code []byte, scratch uint32) []byte {
	code = append(code, 0x22) // local.tee $scratch
	code = appendU32(code, scratch)
	code = append(code, 0x20) // local.get $scratch
	code = appendU32(code, scratch)
	code = append(code, 0x41, 0x7F, 0x46, 0x04, 0x40, 0x41, 0x01, 0x24) // i32.const -1 i32.eq if i32.const 1 global.set
	code = appendU32(code, rw.growFailed)
	return append(code, 0x0B)
}

// bulkOp reports whether the 0xFC instruction at r takes a length to fill
// or copy: memory.init, memory.copy, memory.fill, table.init, table.copy,
// table.grow, table.fill. It does not move r.
func bulkOp(r *reader) bool {
	peek := *r
	switch peek.u32() {
	case 8, 10, 11, 12, 14, 15, 17:
		return true
	}
	return false
}

// opensWithLoop reports whether a function body reaches a loop before any
// call, branch or conditional: Go's functions do. Its loop head check then
// runs at every entry.
func opensWithLoop(code []byte) bool {
	r := &reader{b: code}
	for r.off < len(code) {
		op := r.byte()
		switch {
		case op == 0x03:
			return true
		case op == 0x01, op == 0x02, op == 0x1A, op == 0x1B, op >= 0x20 && op <= 0x24,
			op >= 0x28 && op <= 0x3F, op >= 0x41 && op <= 0xC4:
			if r.skipImmediates(op) != nil {
				return false
			}
		default:
			return false
		}
	}
	return false
}

// putSLEB5 writes v as a 5-byte signed LEB128 number (padded, so that its
// size is known before its value).
func putSLEB5(b []byte, v int32) {
	for i := range 4 {
		b[i] = byte(v&0x7F) | 0x80
		v >>= 7
	}
	b[4] = byte(v & 0x7F)
}
