package wasm

import (
	"cmp"
	"context"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
)

// TestGuestProfile prints where a guest spends a hook call on a benchmark
// document (the request hook's 1 KB request by default;
// TOLLGATE_GUEST_HOOK=response or stream_event for the others): per guest
// function, how many times it runs per call and its inclusive time. wazero's function listeners make every
// guest call much slower, so read the counts as exact and the times as
// proportions, not as the cost of a call. It runs only when asked:
//
//	make plugins
//	TOLLGATE_GUEST_PROFILE=testdata/conformance-go.wasm go test -run TestGuestProfile -v ./plugins/wasm
func TestGuestProfile(t *testing.T) {
	path := os.Getenv("TOLLGATE_GUEST_PROFILE")
	if path == "" {
		t.Skip("set TOLLGATE_GUEST_PROFILE to a .wasm plugin to profile its request hook")
	}
	bin, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	prof := &guestProfile{byFn: map[string]*fnStat{}}
	ctx := experimental.WithFunctionListenerFactory(context.Background(), prof)
	rt := wazero.NewRuntime(ctx)
	defer rt.Close(ctx)
	wasi_snapshot_preview1.MustInstantiate(ctx, rt)
	_, err = rt.NewHostModuleBuilder(hostModule).
		NewFunctionBuilder().WithFunc(func(context.Context, api.Module, uint32, uint32, uint32) {}).Export("log").
		NewFunctionBuilder().WithFunc(func(_ context.Context, m api.Module, buf, n uint32) int32 {
		if n >= 2 {
			m.Memory().Write(buf, []byte("{}"))
		}
		return 2
	}).Export("config").
		NewFunctionBuilder().WithFunc(func(context.Context, api.Module, uint32, uint32, uint32, uint32) int32 { return 0 }).Export("deliver").
		NewFunctionBuilder().WithFunc(func(context.Context, api.Module, uint32, uint32, uint32, uint32) int32 { return 0 }).Export("emit").
		Instantiate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cm, err := rt.CompileModule(ctx, bin)
	if err != nil {
		t.Fatal(err)
	}
	mod, err := rt.InstantiateModule(ctx, cm, wazero.NewModuleConfig().WithName("").WithStartFunctions())
	if err != nil {
		t.Fatal(err)
	}
	if init := mod.ExportedFunction("_initialize"); init != nil {
		if _, err := init.Call(ctx); err != nil {
			t.Fatal(err)
		}
	}
	hookName := cmp.Or(os.Getenv("TOLLGATE_GUEST_HOOK"), "request")
	var doc []byte
	var hook api.Function
	for _, h := range hookInputs() {
		if h.name == hookName {
			doc, _ = h.in.Encode(nil, h.hook)
			hook = mod.ExportedFunction(hookExports[hookIndex(h.hook)])
		}
	}
	if hook == nil {
		t.Fatalf("TOLLGATE_GUEST_HOOK=%s: want request, response or stream_event, of a hook the module exports", hookName)
	}
	res, err := mod.ExportedFunction(exportAlloc).Call(ctx, uint64(len(doc)))
	if err != nil {
		t.Fatal(err)
	}
	ptr := uint32(res[0])
	call := func() {
		if !mod.Memory().Write(ptr, doc) {
			t.Fatal("writing the document")
		}
		if _, err := hook.Call(ctx, uint64(ptr), uint64(len(doc))); err != nil {
			t.Fatal(err)
		}
	}
	for range 2000 { // warm: the heap grows to its steady size
		call()
	}
	const calls = 200
	prof.on = true
	for range calls {
		call()
	}
	prof.on = false
	var stats []*fnStat
	total := 0
	for _, s := range prof.byFn {
		stats = append(stats, s)
		total += s.calls
	}
	slices.SortFunc(stats, func(a, b *fnStat) int { return cmp.Compare(b.incl, a.incl) })
	t.Logf("%s, %s hook, %d-byte document: %.0f guest function calls per hook call", path, hookName, len(doc), float64(total)/calls)
	t.Logf("%10s %12s  %s", "calls/call", "inclusive", "function")
	for _, s := range stats[:min(len(stats), 40)] {
		t.Logf("%10.1f %12s  %s", float64(s.calls)/calls, s.incl/calls, s.name)
	}
}

type fnStat struct {
	name  string
	calls int
	incl  time.Duration
}

// guestProfile is a function listener that counts guest calls and times
// them inclusively (a recursive function's time counts once per frame).
type guestProfile struct {
	on    bool
	byFn  map[string]*fnStat
	stack []time.Time
}

func (g *guestProfile) NewFunctionListener(def api.FunctionDefinition) experimental.FunctionListener {
	name := def.DebugName()
	s := g.byFn[name]
	if s == nil {
		s = &fnStat{name: name}
		g.byFn[name] = s
	}
	return &fnListener{g: g, s: s}
}

type fnListener struct {
	g *guestProfile
	s *fnStat
}

func (l *fnListener) Before(context.Context, api.Module, api.FunctionDefinition, []uint64, experimental.StackIterator) {
	l.g.stack = append(l.g.stack, time.Now())
}

func (l *fnListener) After(context.Context, api.Module, api.FunctionDefinition, []uint64) {
	n := len(l.g.stack) - 1
	start := l.g.stack[n]
	l.g.stack = l.g.stack[:n]
	if l.g.on {
		l.s.calls++
		l.s.incl += time.Since(start)
	}
}

func (l *fnListener) Abort(context.Context, api.Module, api.FunctionDefinition, error) {
	l.g.stack = l.g.stack[:len(l.g.stack)-1]
}
