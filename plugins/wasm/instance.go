package wasm

import (
	"bytes"
	"cmp"
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

	// deadline and growFailed are the globals instrument added
	// (modeInstrument).
	deadline   api.MutableGlobal
	growFailed api.MutableGlobal
	timer      *time.Timer
	fired      atomic.Bool
	firedAt    atomic.Int64 // UnixNano, when fired was set
	// ctx is the context of the running call, for yield.
	ctx context.Context

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

// newInstance instantiates the module and runs its start function and
// _initialize, each under the start deadline.
func (p *Plugin) newInstance(ctx context.Context, mode deadlineMode) (*instance, error) {
	out := &guestOutput{log: p.log, level: slog.LevelInfo}
	errOut := &guestOutput{log: p.log, level: slog.LevelWarn}
	inst := &instance{p: p, mode: mode, stderr: errOut}
	inst.timer = time.AfterFunc(time.Hour, inst.interrupt)
	inst.timer.Stop()
	limit := p.startTimeout
	// An instrumented module's start function is an export, run below; in
	// the other modes it runs in InstantiateModule, which the runtime's
	// close-on-done bounds by this context.
	ictx, cancel := context.WithTimeout(ctx, limit)
	mod, err := p.rt.InstantiateModule(ictx, p.compiled, p.modCfg.WithStdout(out).WithStderr(errOut).WithOsyield(inst.yield))
	ended := ictx.Err() != nil
	cancel()
	if err != nil {
		if ended {
			if ctx.Err() != nil {
				return nil, p.cancelError(ctx, "starting an instance")
			}
			return nil, p.timeoutError(startWhat, limit, 0, false)
		}
		return nil, fmt.Errorf("instantiating the module: %w", err)
	}
	inst.mod, inst.mem, inst.alloc = mod, mod.Memory(), mod.ExportedFunction(exportAlloc)
	for i, name := range hookExports {
		inst.hooks[i] = mod.ExportedFunction(name)
	}
	if mode == modeInstrument {
		g, ok1 := mod.ExportedGlobal(deadlineGlobal).(api.MutableGlobal)
		f, ok2 := mod.ExportedGlobal(growFailedGlobal).(api.MutableGlobal)
		if !ok1 || !ok2 {
			mod.Close(ctx)
			return nil, errors.New("BUG: the instrumented module lacks the globals instrument adds")
		}
		inst.deadline, inst.growFailed = g, f
	}
	p.mu.Lock()
	p.byMod[mod] = inst
	p.mu.Unlock()
	for _, name := range []string{startExport, "_initialize"} {
		if fn := mod.ExportedFunction(name); fn != nil {
			what := startWhat
			if name != startExport {
				what = name
			}
			if err := inst.run(ctx, fn, limit, what); err != nil {
				inst.close()
				if e, ok := err.(*core.Error); ok && e.Kind == core.KindTimeout {
					return nil, err // it names what timed out
				}
				return nil, fmt.Errorf("%s: %w", what, err)
			}
		}
	}
	return inst, nil
}

const startWhat = "the module's start function"

// startTimeout is the deadline of starting an instance (its start
// function, then _initialize): a Go guest's runtime start takes
// milliseconds, more than a hook's deadline may allow.
func startTimeout(call time.Duration) time.Duration { return max(10*call, 10*time.Second) }

// interrupt runs when the call deadline passes or its context ends: the
// running code traps at its next check (or the module is closed). The
// timer and the guest's yield may both get here; only the first acts, so
// the deadline global has one writer.
func (inst *instance) interrupt() {
	if !inst.fired.CompareAndSwap(false, true) {
		return
	}
	inst.firedAt.Store(time.Now().UnixNano())
	switch inst.mode {
	case modeInstrument:
		inst.deadline.Set(1)
	case modeCloseOnDone:
		inst.mod.CloseWithExitCode(context.Background(), exitDeadline)
	}
}

// yield is the guest's sched_yield, which $refuel calls about every
// millisecond of guest work. It runs on the calling goroutine, in Go: the
// call stops there if its context ended, and a preemption the scheduler
// asked for (a stop-the-world, a goroutine running over 10 ms) happens.
// It does not call runtime.Gosched: that costs microseconds on a locked
// thread, and the scheduler's own preemption suffices.
func (inst *instance) yield() {
	if inst.ctx != nil && inst.ctx.Err() != nil {
		inst.interrupt()
	}
}

// run calls fn with inst.stack and classifies a failure. The call ends at
// the earlier of timeout and the end of ctx; what names it in a timeout
// error ("" for a hook).
func (inst *instance) run(ctx context.Context, fn api.Function, timeout time.Duration, what string) error {
	var err error
	byCtx := false // the timer is armed for ctx's deadline
	switch inst.mode {
	case modeContextCancel:
		cctx, cancel := context.WithTimeout(ctx, timeout)
		err = fn.CallWithStack(cctx, inst.stack[:])
		cancel()
		if err != nil && cctx.Err() != nil {
			inst.fired.Store(true)
		}
	case modeNone:
		err = fn.CallWithStack(ctx, inst.stack[:])
	default:
		d := timeout
		if dl, ok := ctx.Deadline(); ok {
			if u := time.Until(dl); u < d {
				d, byCtx = u, true
			}
		}
		inst.ctx = ctx
		inst.timer.Reset(d)
		err = fn.CallWithStack(ctx, inst.stack[:])
		if !inst.timer.Stop() {
			// The deadline passed, even if the call finished: the instance
			// may be flagged, so it is not reused.
			inst.fired.Store(true)
		}
		inst.ctx = nil
	}
	if inst.fired.Load() || (err != nil && ctx.Err() != nil) {
		if byCtx || ctx.Err() != nil {
			return inst.p.cancelError(ctx, what)
		}
		var over time.Duration
		if at := inst.firedAt.Load(); at != 0 {
			over = time.Since(time.Unix(0, at))
		}
		if err == nil {
			inst.p.log.Warn("plugin answered after its deadline; the answer is refused", "id", inst.reqID,
				"call", cmp.Or(what, "hook"), "deadline", timeout, "overrun", over)
		}
		return inst.p.timeoutError(what, timeout, over, err == nil)
	}
	if err != nil {
		return inst.failure(err)
	}
	if inst.growFailed != nil && inst.growFailed.Get() != 0 {
		inst.growFailed.Set(0) // the guest coped: a later trap is not for want of memory
	}
	return nil
}

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
		if err := inst.run(ctx, inst.alloc, inst.p.timeout, ""); err != nil {
			return nil, err
		}
		inst.buf, inst.bufCap = uint32(inst.stack[0]), n
	}
	if !inst.mem.Write(inst.buf, doc) {
		return nil, inst.p.abiError("%s(%d) returned address %d, which is out of bounds of its memory (%d bytes)", exportAlloc, n, inst.buf, inst.mem.Size())
	}
	inst.stack[0], inst.stack[1] = uint64(inst.buf), uint64(n)
	if err := inst.run(ctx, inst.hooks[hookIndex(hook)], inst.p.timeout, ""); err != nil {
		return nil, err
	}
	res := inst.stack[0]
	if res == 0 {
		return nil, nil
	}
	ptr, size := uint32(res>>32), uint32(res)
	if size > maxOutput {
		return nil, inst.p.abiError("the answer document is %d bytes, over the limit of %d", size, maxOutput)
	}
	out, ok := inst.mem.Read(ptr, size)
	if !ok {
		return nil, inst.p.abiError("the hook answered with address %d and length %d, out of bounds of its memory (%d bytes)", ptr, size, inst.mem.Size())
	}
	return bytes.Clone(out), nil
}

const maxOutput = 64 << 20

// callHooks calls tollgate_hooks.
func (inst *instance) callHooks(ctx context.Context) (int, error) {
	if err := inst.run(ctx, inst.mod.ExportedFunction(exportHooks), inst.p.timeout, exportHooks); err != nil {
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
	var exit *sys.ExitError
	msg := firstLine(err.Error())
	if errors.As(err, &exit) {
		msg = fmt.Sprintf("the plugin exited with code %d", exit.ExitCode())
	}
	if tail != "" {
		msg += ": " + keyLine(tail)
	}
	if strings.Contains(tail, "out of memory") || inst.outOfMemory() {
		return &core.Error{Kind: core.KindInternal, Code: "plugin_out_of_memory", Stage: p.name, Err: err,
			Message: fmt.Sprintf("plugin %s ran out of memory (memory_limit_pages %d = %s); the instance was replaced (%s)", p.name, p.cfg.MemoryLimitPages, sizeString(p.memLimit), msg)}
	}
	return &core.Error{Kind: core.KindInternal, Code: "plugin_trap", Stage: p.name, Err: err,
		Message: fmt.Sprintf("plugin %s failed: %s; the instance was replaced", p.name, msg)}
}

// outOfMemory reports whether a memory.grow failed in this call. Without
// the rewrite's flag, the best guess is a memory too full to grow a page.
func (inst *instance) outOfMemory() bool {
	if inst.growFailed != nil {
		return inst.growFailed.Get() != 0
	}
	return inst.mem != nil && !inst.mod.IsClosed() && uint64(inst.mem.Size())+65536 > inst.p.memLimit
}

// timeoutError is a call stopped at, or answered after, its deadline;
// what names it ("" for a hook), over is how long after the deadline it
// ended.
func (p *Plugin) timeoutError(what string, limit, over time.Duration, answered bool) error {
	e := &core.Error{Kind: core.KindTimeout, Code: "plugin_timeout", Stage: p.name}
	switch {
	case what != "":
		e.Message = fmt.Sprintf("plugin %s: %s did not finish within %s, the limit for starting an instance (ten times call_timeout, at least 10s)", p.name, what, limit)
	case answered:
		e.Message = fmt.Sprintf("plugin %s did not finish within its call_timeout of %s: it answered %s late, and the answer was refused; the instance was replaced", p.name, limit, over.Round(time.Microsecond))
	default:
		e.Message = fmt.Sprintf("plugin %s did not finish within its call_timeout of %s; the instance was replaced", p.name, limit)
	}
	return e
}

// cancelError is a call stopped because its context ended first: the
// stage's timeout passed, or the client left.
func (p *Plugin) cancelError(ctx context.Context, what string) error {
	cause := context.Cause(ctx)
	if cause == nil {
		cause = context.DeadlineExceeded // the timer fired at ctx's deadline before ctx did
	}
	return &core.Error{Kind: core.KindTimeout, Code: "plugin_cancelled", Stage: p.name, Err: cause,
		Message: fmt.Sprintf("plugin %s was stopped before it finished %s: the call ended (%v); the instance was replaced", p.name, cmp.Or(what, "the hook"), cause)}
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

// sizeString writes a memory limit in MiB, or KiB under one MiB.
func sizeString(b uint64) string {
	if b < 1<<20 {
		return fmt.Sprintf("%d KiB", b>>10)
	}
	return fmt.Sprintf("%d MiB", b>>20)
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
