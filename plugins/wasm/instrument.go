package wasm

import (
	"bytes"
	"cmp"
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
// tollgate rewrites the module once, before compiling it. It adds globals —
// a deadline flag (exported as deadlineGlobal), a fuel counter and a
// grow-failed flag (growFailedGlobal) — and one function, $refuel. Fuel
// stands for work: one unit per instruction, one per 16 bytes of a bulk
// memory or table operation. Checks that take fuel go
//
//   - at every function entry, taking the function's instructions outside
//     its loops (so recursion, which has no loop, is metered per call);
//   - at every loop head, taking the loop body's own instructions (nested
//     loops take theirs), so a long body costs more than a short one;
//   - before every memory.fill, memory.copy, memory.init and table bulk
//     operation, taking its length.
//
// Each is a few native instructions:
//
//	global.get $fuel  i32.const cost  i32.sub  global.set $fuel
//	global.get $fuel  i32.const 0  i32.le_s
//	if  call $refuel  end
//
// When the fuel runs out (every fuelPerYield units, about a millisecond of
// guest work at most) $refuel refills it, calls the module's own
// wasi_snapshot_preview1.sched_yield import (a trip through Go, where the
// goroutine can be preempted and the host checks the call's context) and
// traps if the deadline flag is set. A timer armed for each call sets the
// flag when the deadline passes. A trap with the flag set is reported as a
// timeout, and the instance is replaced. The instructions a function runs
// between two checks are bounded by its size, as a loop or a call always
// passes a check; what is left unmetered is a single memory.grow and the
// time spent in host functions.
//
// A Go function opens with a loop (Go's resume dispatch) before any call or
// branch: its loop head check is its entry check, and no second is added.
//
// A memory.grow that fails sets the grow-failed flag, so that a trap after
// it is reported as out of memory (a guest usually traps when it gets no
// memory) and not as a trap.
//
// The start function runs when a module is instantiated, where no deadline
// can reach it; the rewrite exports it as startExport instead, and the host
// calls it, under a deadline, as it calls _initialize.
//
// A module that does not import sched_yield (it imports nothing, say) is
// run with wazero's WithCloseOnContextDone instead, closed by the same
// timer: slower loops, same guarantees. Every Go guest imports it.

// Names the rewrite exports.
const (
	deadlineGlobal   = "__tollgate_deadline"
	growFailedGlobal = "__tollgate_grow_failed"
	startExport      = "__tollgate_start"
)

// fuelPerYield is the work, in fuel units, between trips through Go. A
// unit is at most a few ns of native code, and a 16 MiB memory.fill (one
// budget) took 0.4–0.6 ms here: a deadline is met, or a stop-the-world
// joined, within about a millisecond, while the trips (well under 1 µs
// each) cost a negligible share of the time.
const fuelPerYield = 1 << 20

// bulkShift: a bulk operation of n bytes costs n>>bulkShift units.
const bulkShift = 4

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
	secStart    = 8
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

// checks counts what instrument added.
type checks struct {
	entries, loops, bulk, grows int
}

// instrument returns the module with the deadline checks added, and what
// it added. Custom DWARF sections are dropped, as their code offsets no
// longer hold.
func instrument(bin []byte) ([]byte, checks, error) {
	var added checks
	secs, err := readSections(bin)
	if err != nil {
		return nil, added, err
	}
	types, err := readTypes(secs)
	if err != nil {
		return nil, added, err
	}
	imp, err := readImports(secs, types)
	if err != nil {
		return nil, added, err
	}
	params, err := readFuncParams(secs, types)
	if err != nil {
		return nil, added, err
	}
	// New entries go at the end of each index space, so no index moves.
	var typeIdx, definedFuncs, definedGlobals uint32
	secs, typeIdx = appendEntry(secs, secType, []byte{0x60, 0x00, 0x00}) // () -> ()
	secs, definedFuncs = appendEntry(secs, secFunction, appendU32(nil, 0))
	setLastFuncType(secs, typeIdx)
	secs, definedGlobals = appendEntry(secs, secGlobal, []byte{0x7F, 0x01, 0x41, 0x00, 0x0B}) // $deadline: mut i32 = 0
	secs, _ = appendEntry(secs, secGlobal, append(append([]byte{0x7F, 0x01, 0x41}, sleb32(fuelPerYield)...), 0x0B))
	secs, _ = appendEntry(secs, secGlobal, []byte{0x7F, 0x01, 0x41, 0x00, 0x0B}) // $growFailed: mut i32 = 0
	deadline := uint32(imp.globals) + definedGlobals
	rw := &rewriter{refuel: uint32(imp.funcs) + definedFuncs, fuel: deadline + 1, growFailed: deadline + 2}
	secs, _ = appendEntry(secs, secExport, appendU32(append(appendName(nil, deadlineGlobal), 0x03), deadline))
	secs, _ = appendEntry(secs, secExport, appendU32(append(appendName(nil, growFailedGlobal), 0x03), rw.growFailed))
	if secs, err = exportStart(secs); err != nil {
		return nil, added, err
	}

	// $refuel: fuel = fuelPerYield; drop(sched_yield()); if deadline { unreachable }.
	refuel := []byte{0x00, 0x41}
	refuel = append(refuel, sleb32(fuelPerYield)...)
	refuel = append(refuel, 0x24)
	refuel = appendU32(refuel, rw.fuel)
	refuel = append(refuel, 0x10)
	refuel = appendU32(refuel, uint32(imp.yield))
	refuel = append(refuel, 0x1A, 0x23)
	refuel = appendU32(refuel, deadline)
	refuel = append(refuel, 0x04, 0x40, 0x00, 0x0B, 0x0B)

	for i, s := range secs {
		if s.id != secCode {
			continue
		}
		code, err := rw.code(s.body, params)
		if err != nil {
			return nil, added, fmt.Errorf("code section: %w", err)
		}
		secs[i].body = appendFunc(code, refuel)
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
	return out, rw.added, nil
}

// entryLoops returns the module with an empty loop at the entry of every
// function. It is for the modules instrument cannot rewrite, run with
// wazero's close-on-done: wazero checks for a closed module at loop heads
// only, so without it a recursion (which has no loop) would run on past
// its deadline.
func entryLoops(bin []byte) ([]byte, error) {
	secs, err := readSections(bin)
	if err != nil {
		return nil, err
	}
	out := append([]byte(nil), bin[:8]...)
	for _, s := range secs {
		if s.id == secCode {
			r := &reader{b: s.body}
			count := r.u32()
			body := appendU32(nil, count)
			for f := range count {
				fb := r.bytes(int(r.u32()))
				lr := &reader{b: fb}
				for range lr.u32() {
					lr.u32()
					lr.valtype()
				}
				if err := cmp.Or(r.err, lr.err); err != nil {
					return nil, fmt.Errorf("code section: function %d: %w", f, err)
				}
				body = appendU32(body, uint32(len(fb)+3))
				body = append(body, fb[:lr.off]...)
				body = append(body, 0x03, 0x40, 0x0B) // loop end
				body = append(body, fb[lr.off:]...)
			}
			s.body = body
		}
		out = append(out, s.id)
		out = appendU32(out, uint32(len(s.body)))
		out = append(out, s.body...)
	}
	return out, nil
}

// readSections splits a module into its sections.
func readSections(bin []byte) ([]section, error) {
	if len(bin) < 8 || !bytes.Equal(bin[:4], []byte("\x00asm")) {
		return nil, errors.New("not a WebAssembly binary (no \\0asm magic)")
	}
	r := &reader{b: bin, off: 8}
	var secs []section
	for r.off < len(r.b) {
		id := r.byte()
		n := r.u32()
		body := r.bytes(int(n))
		if r.err != nil {
			return nil, fmt.Errorf("section %d: %w", id, r.err)
		}
		secs = append(secs, section{id, body})
	}
	return secs, nil
}

// exportStart replaces the start section by an export of its function.
func exportStart(secs []section) ([]section, error) {
	for i, s := range secs {
		if s.id != secStart {
			continue
		}
		r := &reader{b: s.body}
		fn := r.u32()
		if r.err != nil {
			return nil, fmt.Errorf("start section: %w", r.err)
		}
		secs = append(secs[:i], secs[i+1:]...)
		secs, _ = appendEntry(secs, secExport, appendU32(append(appendName(nil, startExport), 0x00), fn))
		return secs, nil
	}
	return secs, nil
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

// funcType is what instrument needs of a function type.
type funcType struct {
	params uint32
	yield  bool // () -> i32, the type of sched_yield
}

func readTypes(secs []section) ([]funcType, error) {
	var types []funcType
	for _, s := range secs {
		if s.id != secType {
			continue
		}
		r := &reader{b: s.body}
		count := r.u32()
		for i := uint32(0); i < count && r.err == nil; i++ {
			if form := r.byte(); form != 0x60 && r.err == nil {
				return nil, fmt.Errorf("type section: unsupported type form 0x%02x", form)
			}
			var t funcType
			t.params = r.u32()
			for range t.params {
				r.valtype()
			}
			results, at := r.u32(), r.off
			for range results {
				r.valtype()
			}
			t.yield = t.params == 0 && results == 1 && r.err == nil && r.b[at] == 0x7F
			types = append(types, t)
		}
		if r.err != nil {
			return nil, fmt.Errorf("type section: %w", r.err)
		}
	}
	return types, nil
}

func readImports(secs []section, types []funcType) (imports, error) {
	imp := imports{yield: -1}
	wrongYield := false
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
				t := r.u32()
				if mod == wasiModule && name == "sched_yield" && imp.yield < 0 {
					if int(t) < len(types) && types[t].yield {
						imp.yield = imp.funcs
					} else {
						wrongYield = true
					}
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
	if imp.yield < 0 && wrongYield {
		return imp, fmt.Errorf("the module imports %s.sched_yield with a type other than () -> (i32)", wasiModule)
	}
	if imp.yield < 0 {
		return imp, errNoYield
	}
	return imp, nil
}

// readFuncParams returns the parameter count of each defined function.
func readFuncParams(secs []section, types []funcType) ([]uint32, error) {
	var params []uint32
	for _, s := range secs {
		if s.id != secFunction {
			continue
		}
		r := &reader{b: s.body}
		count := r.u32()
		for i := uint32(0); i < count && r.err == nil; i++ {
			t := r.u32()
			if int(t) >= len(types) {
				return nil, fmt.Errorf("function section: function %d has type %d, out of range", i, t)
			}
			params = append(params, types[t].params)
		}
		if r.err != nil {
			return nil, fmt.Errorf("function section: %w", r.err)
		}
	}
	return params, nil
}
