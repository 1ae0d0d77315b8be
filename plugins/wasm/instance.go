package wasm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"

	"github.com/tollgate-dev/tollgate/core"
)

// instance is one warm module instance. It runs one call at a time: the
// pool hands it to one caller.
type instance struct {
	p     *Plugin
	mod   api.Module
	mem   api.Memory
	alloc api.Function
	hooks [4]api.Function
	mode  deadlineMode

	// deadline is the global instrument added (modeInstrument).
	deadline api.MutableGlobal
	timer    *time.Timer
	fired    atomic.Bool

	stack  [2]uint64
	buf    uint32 // the guest buffer of the last tollgate_alloc
	bufCap uint32
	doc    []byte // the host's encoding buffer

	reqID    string // for host-function logs
	lastUsed time.Time
	stderr   *guestOutput
}

// exit code the timer closes a module with (modeCloseOnDone).
const exitDeadline = sys.ExitCodeDeadlineExceeded

// newInstance instantiates the module and runs its _initialize under the
// call deadline.
func (p *Plugin) newInstance(ctx context.Context, mode deadlineMode) (*instance, error) {
	out := &guestOutput{log: p.log, level: slog.LevelInfo}
	errOut := &guestOutput{log: p.log, level: slog.LevelWarn}
	mod, err := p.rt.InstantiateModule(ctx, p.compiled, p.modCfg.WithStdout(out).WithStderr(errOut))
	if err != nil {
		return nil, fmt.Errorf("instantiating the module: %w", err)
	}
	inst := &instance{p: p, mod: mod, mem: mod.Memory(), alloc: mod.ExportedFunction(exportAlloc), mode: mode, stderr: errOut}
	for i, name := range hookExports {
		inst.hooks[i] = mod.ExportedFunction(name)
	}
	if mode == modeInstrument {
		g, ok := mod.ExportedGlobal(deadlineGlobal).(api.MutableGlobal)
		if !ok {
			mod.Close(ctx)
			return nil, errors.New("BUG: the instrumented module has no deadline global")
		}
		inst.deadline = g
	}
	inst.timer = time.AfterFunc(time.Hour, inst.interrupt)
	inst.timer.Stop()
	p.mu.Lock()
	p.byMod[mod] = inst
	p.mu.Unlock()
	if init := mod.ExportedFunction("_initialize"); init != nil {
		if err := inst.run(ctx, init, initTimeout(p.timeout)); err != nil && err != errLate {
			inst.close()
			return nil, fmt.Errorf("_initialize: %w", err)
		}
	}
	return inst, nil
}

// initTimeout is the deadline of _initialize: a Go guest's runtime start
// takes milliseconds, more than a hook's deadline may allow.
func initTimeout(call time.Duration) time.Duration { return max(10*call, 10*time.Second) }

// interrupt runs when the call deadline passes: the running loop traps at
// its next iteration (or the module is closed).
func (inst *instance) interrupt() {
	inst.fired.Store(true)
	switch inst.mode {
	case modeInstrument:
		inst.deadline.Set(1)
	case modeCloseOnDone:
		inst.mod.CloseWithExitCode(context.Background(), exitDeadline)
	}
}

// run calls fn with inst.stack under the deadline and classifies a failure.
func (inst *instance) run(ctx context.Context, fn api.Function, timeout time.Duration) error {
	var err error
	switch inst.mode {
	case modeContextCancel:
		cctx, cancel := context.WithTimeout(ctx, timeout)
		err = fn.CallWithStack(cctx, inst.stack[:])
		cancel()
		if err != nil && cctx.Err() == context.DeadlineExceeded {
			inst.fired.Store(true)
		}
	case modeNone:
		err = fn.CallWithStack(ctx, inst.stack[:])
	default:
		inst.timer.Reset(timeout)
		err = fn.CallWithStack(ctx, inst.stack[:])
		if !inst.timer.Stop() {
			// The deadline passed, even if the call finished: the instance
			// may be flagged, so it is not reused.
			inst.fired.Store(true)
		}
	}
	if inst.fired.Load() {
		if err == nil {
			return errLate
		}
		return inst.p.timeoutError()
	}
	if err != nil {
		return inst.failure(err)
	}
	return nil
}

// errLate marks a call that finished as its deadline passed: its answer is
// used, but the instance is replaced.
var errLate = errors.New("late")

// call runs one hook on the document in inst.doc and returns the guest's
// answer document, copied out of guest memory (nil for continue).
func (inst *instance) call(ctx context.Context, hook int) ([]byte, error) {
	doc := inst.doc
	if uint64(len(doc)) > uint64(^uint32(0)) {
		return nil, core.Errorf(core.KindTooLarge, "plugin_input_too_large", "the document for plugin %s is over 4 GiB", inst.p.name)
	}
	n := uint32(len(doc))
	if n > inst.bufCap || inst.bufCap == 0 {
		inst.stack[0] = uint64(n)
		if err := inst.run(ctx, inst.alloc, inst.p.timeout); err != nil && err != errLate {
			return nil, err
		}
		inst.buf, inst.bufCap = uint32(inst.stack[0]), n
		if inst.fired.Load() {
			return nil, inst.p.timeoutError()
		}
	}
	if !inst.mem.Write(inst.buf, doc) {
		return nil, inst.p.abiError("%s(%d) returned address %d, which is out of bounds of its memory (%d bytes)", exportAlloc, n, inst.buf, inst.mem.Size())
	}
	inst.stack[0], inst.stack[1] = uint64(inst.buf), uint64(n)
	err := inst.run(ctx, inst.hooks[hookIndex(hook)], inst.p.timeout)
	if err != nil && err != errLate {
		return nil, err
	}
	res := inst.stack[0]
	if res == 0 {
		return nil, err
	}
	ptr, size := uint32(res>>32), uint32(res)
	if size > maxOutput {
		return nil, inst.p.abiError("the answer document is %d bytes, over the limit of %d", size, maxOutput)
	}
	out, ok := inst.mem.Read(ptr, size)
	if !ok {
		return nil, inst.p.abiError("the hook answered with address %d and length %d, out of bounds of its memory (%d bytes)", ptr, size, inst.mem.Size())
	}
	return bytes.Clone(out), err
}

const maxOutput = 64 << 20

// callHooks calls tollgate_hooks.
func (inst *instance) callHooks(ctx context.Context) (int, error) {
	err := inst.run(ctx, inst.mod.ExportedFunction(exportHooks), inst.p.timeout)
	if err != nil && err != errLate {
		return 0, err
	}
	return int(int32(inst.stack[0])), nil
}

func hookIndex(hook int) int {
	for i := range 4 {
		if hook == 1<<i {
			return i
		}
	}
	panic("BUG: bad hook")
}

// failure classifies a failed call: out of memory, exit, or trap.
func (inst *instance) failure(err error) error {
	p := inst.p
	tail := inst.stderr.tail()
	oom := strings.Contains(tail, "out of memory") ||
		(inst.mem != nil && !inst.mod.IsClosed() && uint64(inst.mem.Size())+16*65536 > uint64(p.memLimit))
	var exit *sys.ExitError
	msg := firstLine(err.Error())
	if errors.As(err, &exit) {
		msg = fmt.Sprintf("the plugin exited with code %d", exit.ExitCode())
	}
	if tail != "" {
		msg += ": " + keyLine(tail)
	}
	if oom {
		return &core.Error{Kind: core.KindInternal, Code: "plugin_out_of_memory", Stage: p.name, Err: err,
			Message: fmt.Sprintf("plugin %s ran out of memory (memory_limit_pages %d = %d MiB); the instance was replaced (%s)", p.name, p.cfg.MemoryLimitPages, p.memLimit>>20, msg)}
	}
	return &core.Error{Kind: core.KindInternal, Code: "plugin_trap", Stage: p.name, Err: err,
		Message: fmt.Sprintf("plugin %s failed: %s; the instance was replaced", p.name, msg)}
}

func (p *Plugin) timeoutError() error {
	return &core.Error{Kind: core.KindTimeout, Code: "plugin_timeout", Stage: p.name,
		Message: fmt.Sprintf("plugin %s did not finish within its call_timeout of %s; the instance was replaced", p.name, p.timeout)}
}

func (p *Plugin) abiError(format string, args ...any) error {
	return &core.Error{Kind: core.KindInternal, Code: "plugin_abi_violation", Stage: p.name,
		Message: fmt.Sprintf("plugin %s broke ABI v1: ", p.name) + fmt.Sprintf(format, args...)}
}

// close closes the module; pooled modules must be closed, not dropped.
func (inst *instance) close() {
	inst.timer.Stop()
	inst.p.mu.Lock()
	delete(inst.p.byMod, inst.mod)
	inst.p.mu.Unlock()
	inst.mod.Close(context.Background())
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// keyLine picks the line of a guest's stderr that says what went wrong: a
// Go panic or fatal error, else the last line.
func keyLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for _, l := range lines {
		if strings.HasPrefix(l, "panic: ") || strings.HasPrefix(l, "fatal error: ") {
			return l
		}
	}
	return strings.TrimSpace(lines[len(lines)-1])
}

// guestOutput logs a guest's stdout or stderr line by line and keeps the
// last bytes for error messages.
type guestOutput struct {
	log   *slog.Logger
	level slog.Level
	mu    sync.Mutex
	line  []byte
	last  []byte
}

func (g *guestOutput) Write(b []byte) (int, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := len(b)
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			if len(g.line) < 4096 {
				g.line = append(g.line, b...)
			}
			break
		}
		g.line = append(g.line, b[:i]...)
		g.log.Log(context.Background(), g.level, "plugin output", "line", string(g.line))
		g.last = append(g.last, g.line...)
		g.last = append(g.last, '\n')
		if len(g.last) > 2048 {
			g.last = g.last[len(g.last)-1024:]
		}
		g.line = g.line[:0]
		b = b[i+1:]
	}
	return n, nil
}

// tail returns the last lines written.
func (g *guestOutput) tail() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return string(g.last) + string(g.line)
}
