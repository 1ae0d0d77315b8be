package wasm

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/plugins/internal/abi"
	"github.com/tollgate-dev/tollgate/plugins/internal/pluginhost"
)

// Plugin is a loaded, compiled module and its pool of warm instances. It is
// safe for concurrent use.
type Plugin struct {
	name    string
	cfg     Config
	log     *slog.Logger
	deliver core.Deliverer
	grants  abi.Grants
	config  []byte // the plugin's own config as JSON
	timeout time.Duration
	// startTimeout bounds starting an instance: its start function and
	// _initialize.
	startTimeout time.Duration
	memLimit     uint64 // bytes

	rt       wazero.Runtime
	compiled wazero.CompiledModule
	modCfg   wazero.ModuleConfig
	// instrumented is false when the module could not be rewritten and the
	// runtime closes modules on deadline instead (slower loops).
	instrumented bool
	shape        shape
	hooks        int

	pool *pool

	mu    sync.RWMutex
	byMod map[any]*instance // host functions find their instance
}

// Option configures [Open].
type Option func(*options)

type options struct {
	log      *slog.Logger
	deliver  core.Deliverer
	cacheDir string
	sink     bool
	mode     deadlineMode
	start    time.Duration
}

// deadlineMode selects how per-call deadlines are enforced; tests and
// benchmarks compare them.
type deadlineMode int

const (
	modeInstrument    deadlineMode = iota // loop-head checks of a global set by a timer
	modeCloseOnDone                       // wazero's WithCloseOnContextDone, closed by the same timer
	modeContextCancel                     // wazero's WithCloseOnContextDone with a context deadline per call
	modeNone                              // no deadline (benchmark baseline only)
)

// WithLogger sets the logger plugin log lines and failures go to.
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithDeliverer sets where deliver and emit hand payloads (the outbox).
// Without it, a [abi.DirectDeliverer] posts them while the plugin waits.
func WithDeliverer(d core.Deliverer) Option { return func(o *options) { o.deliver = d } }

// WithCacheDir keeps compiled code in dir across restarts.
func WithCacheDir(dir string) Option { return func(o *options) { o.cacheDir = dir } }

// asSink selects the sink defaults.
func asSink() Option { return func(o *options) { o.sink = true } }

// withMode selects the deadline mode (tests and benchmarks).
func withMode(m deadlineMode) Option { return func(o *options) { o.mode = m } }

// withStartTimeout replaces the deadline of starting an instance (tests).
func withStartTimeout(d time.Duration) Option { return func(o *options) { o.start = d } }

var (
	cacheMu sync.Mutex
	caches  = map[string]wazero.CompilationCache{}
)

// compilationCache returns the process-wide cache for dir; "" is in memory.
func compilationCache(dir string) (wazero.CompilationCache, error) {
	cacheMu.Lock()
	defer cacheMu.Unlock()
	if c, ok := caches[dir]; ok {
		return c, nil
	}
	var c wazero.CompilationCache
	if dir == "" {
		c = wazero.NewCompilationCache()
	} else {
		var err error
		if c, err = wazero.NewCompilationCacheWithDir(dir); err != nil {
			return nil, fmt.Errorf("compilation cache %s: %w", dir, err)
		}
	}
	caches[dir] = c
	return c, nil
}

// Open loads the module cfg names, checks it against ABI v1 and the
// config's grants, compiles it and warms MinInstances instances. name is
// the stage or sink name used in logs and errors.
func Open(ctx context.Context, name string, cfg Config, opts ...Option) (p *Plugin, err error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	cfg.defaults(o.sink)
	if err := cfg.check(); err != nil {
		return nil, err
	}
	prep, err := pluginhost.Prepare(name, o.log, o.deliver, cfg.Config)
	if err != nil {
		return nil, err
	}
	log := prep.Log
	if err := checkModuleFile(cfg.Path); err != nil {
		return nil, fmt.Errorf("path: %w", err)
	}
	bin, _, err := pluginhost.ReadPinned(cfg.Path, cfg.SHA256, "module")
	if err != nil {
		return nil, err
	}
	p = &Plugin{name: name, cfg: cfg, log: log, deliver: prep.Deliver, config: prep.Config,
		grants:  abi.Grants{DeliverTo: cfg.DeliverTo, EmitTo: cfg.EmitTo},
		timeout: time.Duration(cfg.CallTimeout), memLimit: uint64(cfg.MemoryLimitPages) * 65536,
		byMod: map[any]*instance{}}
	p.startTimeout = cmp.Or(o.start, startTimeout(p.timeout))

	mode := o.mode
	code := bin
	var instrErr error
	if mode == modeInstrument {
		var added checks
		if code, added, instrErr = instrument(bin); instrErr != nil {
			mode = modeCloseOnDone
		} else {
			log.Debug("deadline checks added", "function_entries", added.entries, "loops", added.loops, "bulk_ops", added.bulk, "memory_grows", added.grows)
		}
	}
	if mode == modeCloseOnDone || mode == modeContextCancel {
		if code, err = entryLoops(bin); err != nil {
			code = bin // it will not compile either; CompileModule says why
		}
	}
	p.instrumented = mode == modeInstrument
	cache, err := compilationCache(o.cacheDir)
	if err != nil {
		return nil, err
	}
	rc := wazero.NewRuntimeConfig().
		WithCompilationCache(cache).
		WithMemoryLimitPages(cfg.MemoryLimitPages).
		WithCloseOnContextDone(mode == modeCloseOnDone || mode == modeContextCancel)
	rt := wazero.NewRuntimeWithConfig(ctx, rc)
	p.rt = rt
	defer func() {
		if err != nil {
			err = errors.Join(err, rt.Close(context.Background()))
		}
	}()
	p.compiled, err = p.rt.CompileModule(ctx, code)
	if err != nil {
		if m := memoryMin.FindStringSubmatch(err.Error()); m != nil {
			return nil, fmt.Errorf("the module needs %s pages of memory to start, over its memory_limit_pages of %d: raise memory_limit_pages", m[1], cfg.MemoryLimitPages)
		}
		return nil, fmt.Errorf("the module does not compile: %w", err)
	}
	if instrErr != nil {
		// Logged once the module compiled: a file that is not a module at
		// all gets only the compile error.
		lv := slog.LevelWarn
		if errors.Is(instrErr, errNoYield) {
			lv = slog.LevelDebug
		}
		log.Log(ctx, lv, "deadline checks not added to the module; using wazero's close-on-deadline instead (slower loops)", "err", instrErr)
	}
	if err := checkExports(p.compiled); err != nil {
		return nil, err
	}
	if err := checkImports(p.compiled, cfg.DeliverTo, cfg.EmitTo); err != nil {
		return nil, err
	}
	p.shape = readShape(p.compiled)
	if p.shape.memMin > cfg.MemoryLimitPages {
		return nil, fmt.Errorf("the module needs %d pages of memory to start, over its memory_limit_pages of %d: raise memory_limit_pages", p.shape.memMin, cfg.MemoryLimitPages)
	}
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, p.rt); err != nil {
		return nil, fmt.Errorf("wasi: %w", err)
	}
	if err := p.instantiateHost(ctx); err != nil {
		return nil, err
	}
	p.modCfg = p.moduleConfig()
	p.pool = newPool(p, cfg.PoolSize, cfg.MinInstances, time.Duration(cfg.IdleTimeout), mode)
	// One instance is made now whatever min_instances says: it proves the
	// module instantiates and tells which hooks it serves.
	inst, err := p.pool.create(ctx)
	if err != nil {
		return nil, err
	}
	p.hooks = p.shape.exported
	if p.shape.hasHooks {
		mask, err := inst.callHooks(ctx)
		if err != nil {
			inst.close()
			return nil, fmt.Errorf("calling %s: %w", exportHooks, err)
		}
		if mask&^p.shape.exported != 0 {
			inst.close()
			return nil, fmt.Errorf("%s reports hooks %v, but the module does not export %v", exportHooks, abi.HookList(mask), abi.HookList(mask&^p.shape.exported))
		}
		p.hooks = mask
	}
	p.pool.release(inst, true)
	for i := 1; i < cfg.MinInstances; i++ {
		inst, err := p.pool.create(ctx)
		if err != nil {
			p.pool.close()
			return nil, err
		}
		p.pool.release(inst, true)
	}
	log.Info("wasm plugin loaded", "path", cfg.Path, "hooks", abi.HookList(p.hooks),
		"pool_size", cfg.PoolSize, "memory_limit_pages", cfg.MemoryLimitPages, "call_timeout", p.timeout, "deadline_checks", p.instrumented)
	return p, nil
}

// memoryMin matches wazero's refusal of a memory minimum over the limit.
var memoryMin = regexp.MustCompile(`section memory: min (\d+) pages .* over limit`)

// moduleConfig is the per-instance config: no args, no environment and no
// filesystem beyond what the config grants; stdout and stderr go to the log.
func (p *Plugin) moduleConfig() wazero.ModuleConfig {
	mc := wazero.NewModuleConfig().
		WithName("").
		WithStartFunctions(). // _initialize runs under a deadline, see newInstance
		WithSysWalltime().
		WithSysNanotime().
		WithSysNanosleep().
		WithRandSource(rand.Reader)
	for _, k := range p.cfg.Env {
		if v, ok := os.LookupEnv(k); ok {
			mc = mc.WithEnv(k, v)
		}
	}
	if len(p.cfg.ReadDirs) > 0 {
		fs := wazero.NewFSConfig()
		for guest, host := range p.cfg.ReadDirs {
			fs = fs.WithReadOnlyDirMount(filepath.Clean(host), guest)
		}
		mc = mc.WithFSConfig(fs)
	}
	return mc
}

// Hooks names the hooks the plugin serves.
func (p *Plugin) Hooks() []string { return abi.HookList(p.hooks) }

// Close closes every instance and the runtime.
func (p *Plugin) Close(ctx context.Context) error {
	p.pool.close()
	return p.rt.Close(ctx)
}
