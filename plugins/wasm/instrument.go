package wasm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// Deadline enforcement.
//
// wazero stops a runaway call only when the module is compiled with
// WithCloseOnContextDone, which makes every loop iteration leave native
// code to ask Go whether the module was closed — about 8× slower on
// loop-heavy guests — and starts a goroutine per call (see
// docs/benchmarks.md, "Plugins"). A check that stays in native code is not
// enough on its own: native code cannot be preempted, so a runaway loop
// would also stall the Go runtime's stop-the-world phases (GC) and with
// them the very timer meant to stop it.
//
// tollgate rewrites the module once, before compiling it. It adds two
// globals — a deadline flag, exported as deadlineGlobal, and a fuel counter
// — and one function, $refuel, and at the head of every loop inserts
//
//	global.get $fuel  i32.const 1  i32.sub  global.set $fuel
//	global.get $fuel  i32.eqz
//	if  call $refuel  end
//
// a few native instructions per iteration. Every fuelPerYield iterations
// $refuel refills the counter, calls the module's own
// wasi_snapshot_preview1.sched_yield import (a trip through Go, where the
// goroutine can be preempted) and traps if the deadline flag is set. A
// timer armed for each call sets the flag when the deadline passes. A trap
// with the timer fired is reported as a timeout, and the instance is
// replaced. Straight-line code and recursion end on their own (recursion by
// stack exhaustion), so loop heads suffice.
//
// A module that does not import sched_yield (it imports nothing, say) is
// run with wazero's WithCloseOnContextDone instead, closed by the same
// timer: slower loops, same guarantees. Every Go guest imports it.

// deadlineGlobal is the export name of the flag instrument adds.
const deadlineGlobal = "__tollgate_deadline"

// fuelPerYield is how many loop iterations run between trips through Go.
const fuelPerYield = 1 << 16

// errNoYield means the module has no import instrument can yield through.
var errNoYield = errors.New("the module does not import wasi_snapshot_preview1.sched_yield")

// Section ids.
const (
	secCustom   = 0
	secType     = 1
	secImport   = 2
	secFunction = 3
	secGlobal   = 6
	secExport   = 7
	secCode     = 10
)

// sectionOrder ranks section ids in the order the binary format requires.
var sectionOrder = map[byte]int{1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 13: 6, 6: 7, 7: 8, 8: 9, 9: 10, 12: 11, 10: 12, 11: 13}

type section struct {
	id   byte
	body []byte
}

// imports is what instrument needs from the import section.
type imports struct {
	funcs, globals int
	yield          int // function index of sched_yield, -1 without
}

// instrument returns the module with the deadline checks added, and how
// many loops it instrumented. Custom DWARF sections are dropped, as their
// code offsets no longer hold.
func instrument(bin []byte) ([]byte, int, error) {
	if len(bin) < 8 || !bytes.Equal(bin[:4], []byte("\x00asm")) {
		return nil, 0, errors.New("not a WebAssembly binary (no \\0asm magic)")
	}
	r := &reader{b: bin, off: 8}
	var secs []section
	for r.off < len(r.b) {
		id := r.byte()
		n := r.u32()
		body := r.bytes(int(n))
		if r.err != nil {
			return nil, 0, fmt.Errorf("section %d: %w", id, r.err)
		}
		secs = append(secs, section{id, body})
	}
	imp, err := readImports(secs)
	if err != nil {
		return nil, 0, err
	}
	if imp.yield < 0 {
		return nil, 0, errNoYield
	}
	// New entries go at the end of each index space, so no index moves.
	var typeIdx, definedFuncs, definedGlobals uint32
	secs, typeIdx = appendEntry(secs, secType, []byte{0x60, 0x00, 0x00}) // () -> ()
	secs, definedFuncs = appendEntry(secs, secFunction, appendU32(nil, 0))
	setLastFuncType(secs, typeIdx)
	refuel := uint32(imp.funcs) + definedFuncs
	secs, definedGlobals = appendEntry(secs, secGlobal, []byte{0x7F, 0x01, 0x41, 0x00, 0x0B}) // $deadline: mut i32 = 0
	deadline := uint32(imp.globals) + definedGlobals
	fuelInit := append([]byte{0x7F, 0x01, 0x41}, sleb32(fuelPerYield)...)
	secs, _ = appendEntry(secs, secGlobal, append(fuelInit, 0x0B)) // $fuel: mut i32 = fuelPerYield
	fuel := deadline + 1
	exp := appendName(nil, deadlineGlobal)
	exp = append(exp, 0x03)
	secs, _ = appendEntry(secs, secExport, appendU32(exp, deadline))

	// At each loop head: fuel--; if fuel == 0 { refuel() }.
	check := []byte{0x23}
	check = appendU32(check, fuel)
	check = append(check, 0x41, 0x01, 0x6B, 0x24)
	check = appendU32(check, fuel)
	check = append(check, 0x23)
	check = appendU32(check, fuel)
	check = append(check, 0x45, 0x04, 0x40, 0x10)
	check = appendU32(check, refuel)
	check = append(check, 0x0B)
	// $refuel: fuel = fuelPerYield; drop(sched_yield()); if deadline { unreachable }.
	body := []byte{0x00, 0x41}
	body = append(body, sleb32(fuelPerYield)...)
	body = append(body, 0x24)
	body = appendU32(body, fuel)
	body = append(body, 0x10)
	body = appendU32(body, uint32(imp.yield))
	body = append(body, 0x1A, 0x23)
	body = appendU32(body, deadline)
	body = append(body, 0x04, 0x40, 0x00, 0x0B, 0x0B)

	loops := 0
	for i, s := range secs {
		if s.id != secCode {
			continue
		}
		code, n, err := instrumentCode(s.body, check)
		if err != nil {
			return nil, 0, fmt.Errorf("code section: %w", err)
		}
		loops = n
		secs[i].body = appendFunc(code, body)
	}
	out := append([]byte(nil), bin[:8]...)
	for _, s := range secs {
		if s.id == secCustom {
			nr := &reader{b: s.body}
			if strings.HasPrefix(nr.name(), ".debug") {
				continue
			}
		}
		out = append(out, s.id)
		out = appendU32(out, uint32(len(s.body)))
		out = append(out, s.body...)
	}
	return out, loops, nil
}

// appendEntry appends one entry to a vector section (creating the section
// if the module has none) and returns the entry's index in the section.
func appendEntry(secs []section, id byte, entry []byte) ([]section, uint32) {
	for i, s := range secs {
		if s.id == id {
			r := &reader{b: s.body}
			n := r.u32()
			body := appendU32(nil, n+1)
			body = append(body, s.body[r.off:]...)
			secs[i].body = append(body, entry...)
			return secs, n
		}
	}
	s := section{id, append([]byte{1}, entry...)}
	rank := sectionOrder[id]
	for i, x := range secs {
		if x.id != secCustom && sectionOrder[x.id] > rank {
			return append(secs[:i], append([]section{s}, secs[i:]...)...), 0
		}
	}
	return append(secs, s), 0
}

// setLastFuncType sets the type of the function appended last.
func setLastFuncType(secs []section, typeIdx uint32) {
	for i, s := range secs {
		if s.id == secFunction {
			secs[i].body = appendU32(s.body[:len(s.body)-1], typeIdx)
		}
	}
}

// appendFunc appends one function body (no locals) to a code section.
func appendFunc(code, body []byte) []byte {
	r := &reader{b: code}
	n := r.u32()
	out := appendU32(nil, n+1)
	out = append(out, code[r.off:]...)
	out = appendU32(out, uint32(len(body)))
	return append(out, body...)
}

func sleb32(v int32) []byte {
	var b []byte
	for {
		c := byte(v & 0x7F)
		v >>= 7
		if (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

func readImports(secs []section) (imports, error) {
	imp := imports{yield: -1}
	for _, s := range secs {
		if s.id != secImport {
			continue
		}
		r := &reader{b: s.body}
		count := r.u32()
		for i := uint32(0); i < count && r.err == nil; i++ {
			mod := r.name()
			name := r.name()
			switch kind := r.byte(); kind {
			case 0x00: // func
				r.u32()
				if mod == "wasi_snapshot_preview1" && name == "sched_yield" && imp.yield < 0 {
					imp.yield = imp.funcs
				}
				imp.funcs++
			case 0x01: // table
				r.byte()
				r.limits()
			case 0x02: // memory
				r.limits()
			case 0x03: // global
				r.valtype()
				r.byte()
				imp.globals++
			case 0x04: // tag
				r.byte()
				r.u32()
			default:
				return imp, fmt.Errorf("import section: unknown import kind 0x%02x", kind)
			}
		}
		if r.err != nil {
			return imp, fmt.Errorf("import section: %w", r.err)
		}
	}
	return imp, nil
}

// instrumentCode inserts check after the block type of every loop.
func instrumentCode(sec, check []byte) ([]byte, int, error) {
	r := &reader{b: sec}
	count := r.u32()
	out := appendU32(make([]byte, 0, len(sec)+len(sec)/16), count)
	loops := 0
	var body []byte
	for f := uint32(0); f < count; f++ {
		size := r.u32()
		fb := r.bytes(int(size))
		if r.err != nil {
			return nil, 0, fmt.Errorf("function %d: %w", f, r.err)
		}
		var n int
		var err error
		body, n, err = instrumentBody(body[:0], fb, check)
		if err != nil {
			return nil, 0, fmt.Errorf("function %d: %w", f, err)
		}
		loops += n
		out = appendU32(out, uint32(len(body)))
		out = append(out, body...)
	}
	return out, loops, nil
}

func instrumentBody(out, fb, check []byte) ([]byte, int, error) {
	r := &reader{b: fb}
	groups := r.u32()
	for i := uint32(0); i < groups; i++ {
		r.u32()
		r.valtype()
	}
	if r.err != nil {
		return nil, 0, fmt.Errorf("locals: %w", r.err)
	}
	loops := 0
	start := 0
	for r.off < len(r.b) && r.err == nil {
		op := r.byte()
		if err := r.skipImmediates(op); err != nil {
			return nil, 0, err
		}
		if op == 0x03 { // loop
			out = append(out, fb[start:r.off]...)
			out = append(out, check...)
			start = r.off
			loops++
		}
	}
	if r.err != nil {
		return nil, 0, r.err
	}
	return append(out, fb[start:]...), loops, nil
}

// skipImmediates consumes the immediates of the instruction op.
func (r *reader) skipImmediates(op byte) error {
	switch {
	case op == 0x02 || op == 0x03 || op == 0x04 || op == 0x06: // block loop if try
		r.blocktype()
	case op == 0x07 || op == 0x08 || op == 0x09 || op == 0x0C || op == 0x0D || op == 0x10 || op == 0x12 ||
		op == 0x14 || op == 0x15 || op == 0x18 || op == 0xD2 || op == 0xD4 || op == 0xD6:
		r.u32()
	case op == 0x0E: // br_table
		n := r.u32()
		for i := uint32(0); i <= n && r.err == nil; i++ {
			r.u32()
		}
	case op == 0x11 || op == 0x13: // call_indirect, return_call_indirect
		r.u32()
		r.u32()
	case op == 0x1C: // select t*
		n := r.u32()
		for i := uint32(0); i < n && r.err == nil; i++ {
			r.valtype()
		}
	case op == 0x1F: // try_table
		r.blocktype()
		n := r.u32()
		for i := uint32(0); i < n && r.err == nil; i++ {
			switch r.byte() {
			case 0x00, 0x01:
				r.u32()
				r.u32()
			default:
				r.u32()
			}
		}
	case op >= 0x20 && op <= 0x26: // local.*, global.*, table.get/set
		r.u32()
	case op >= 0x28 && op <= 0x3E: // loads and stores
		r.memarg()
	case op == 0x3F || op == 0x40: // memory.size, memory.grow
		r.u32()
	case op == 0x41:
		r.sleb()
	case op == 0x42:
		r.sleb()
	case op == 0x43:
		r.bytes(4)
	case op == 0x44:
		r.bytes(8)
	case op == 0xD0: // ref.null
		r.sleb()
	case op == 0xFC:
		return r.skipFC()
	case op == 0xFD:
		return r.skipSIMD()
	case op == 0xFE:
		sub := r.u32()
		if sub == 0x03 { // atomic.fence
			r.byte()
		} else {
			r.memarg()
		}
	case op <= 0x01 || op == 0x05 || op == 0x0A || op == 0x0B || op == 0x0F || op == 0x19 || op == 0x1A || op == 0x1B ||
		(op >= 0x45 && op <= 0xC4) || op == 0xD1 || op == 0xD3 || op == 0xD5:
		// no immediates
	default:
		return fmt.Errorf("unknown opcode 0x%02x at offset %d", op, r.off-1)
	}
	return r.err
}

func (r *reader) skipFC() error {
	switch sub := r.u32(); {
	case sub <= 7:
	case sub == 8, sub == 12, sub == 14: // memory.init, table.init, table.copy
		r.u32()
		r.u32()
	case sub == 9, sub == 11, sub == 13, sub == 15, sub == 16, sub == 17:
		r.u32()
	case sub == 10: // memory.copy
		r.u32()
		r.u32()
	default:
		return fmt.Errorf("unknown 0xFC opcode %d", sub)
	}
	return r.err
}

func (r *reader) skipSIMD() error {
	switch sub := r.u32(); {
	case sub <= 11, sub == 92, sub == 93: // loads, stores, load_zero
		r.memarg()
	case sub == 12, sub == 13: // v128.const, i8x16.shuffle
		r.bytes(16)
	case sub >= 21 && sub <= 34: // extract/replace lane
		r.byte()
	case sub >= 84 && sub <= 91: // load/store lane
		r.memarg()
		r.byte()
	}
	return r.err
}

// reader decodes the WebAssembly binary format.
type reader struct {
	b   []byte
	off int
	err error
}

var errShort = errors.New("unexpected end of data")

func (r *reader) byte() byte {
	if r.err != nil {
		return 0
	}
	if r.off >= len(r.b) {
		r.err = errShort
		return 0
	}
	c := r.b[r.off]
	r.off++
	return c
}

func (r *reader) bytes(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || r.off+n > len(r.b) {
		r.err = errShort
		return nil
	}
	b := r.b[r.off : r.off+n]
	r.off += n
	return b
}

func (r *reader) u64() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b[r.off:])
	if n <= 0 {
		r.err = errors.New("bad LEB128 number")
		return 0
	}
	r.off += n
	return v
}

func (r *reader) u32() uint32 { return uint32(r.u64()) }

// sleb skips a signed LEB128 number.
func (r *reader) sleb() {
	for r.err == nil {
		if r.byte()&0x80 == 0 {
			return
		}
	}
}

func (r *reader) name() string { return string(r.bytes(int(r.u32()))) }

func (r *reader) valtype() {
	switch c := r.byte(); c {
	case 0x63, 0x64: // (ref null ht), (ref ht)
		r.sleb()
	}
}

func (r *reader) blocktype() {
	if r.err != nil || r.off >= len(r.b) {
		r.err = errShort
		return
	}
	switch c := r.b[r.off]; {
	case c == 0x40, c >= 0x6F && c <= 0x7F:
		r.off++
	default:
		r.sleb()
	}
}

func (r *reader) memarg() {
	align := r.u32()
	if align&0x40 != 0 { // multi-memory: a memory index follows
		r.u32()
	}
	r.u64()
}

func (r *reader) limits() {
	flags := r.byte()
	r.u64()
	if flags&1 != 0 {
		r.u64()
	}
}

func appendU32(b []byte, v uint32) []byte { return binary.AppendUvarint(b, uint64(v)) }

func appendName(b []byte, s string) []byte {
	b = appendU32(b, uint32(len(s)))
	return append(b, s...)
}
