package wasm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/internal/logbuf"
	"github.com/tollgate-dev/tollgate/pipeline"
	"github.com/tollgate-dev/tollgate/plugins/internal/abi"
	"github.com/tollgate-dev/tollgate/providers/openai"
)

// within runs f and fails the test if it has not returned within 20 s. It
// is a hang guard, not a timing assertion: a deadline that is enforced
// ends the call long before.
func within(t *testing.T, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("did not return within 20 s: the deadline was not enforced")
	}
}

// wantCode fails the test unless err is a *core.Error with code.
func wantCode(t *testing.T, err error, code string) *core.Error {
	t.Helper()
	var e *core.Error
	if !errors.As(err, &e) || e.Code != code {
		t.Fatalf("err = %v, want code %s", err, code)
	}
	return e
}

// TestDeadlineStopsAnyWork checks that the call deadline stops guests that
// pass few loop heads: a recursion with no loop at all, and a loop whose
// iterations are each a 16 MiB memory.fill. Both run for minutes without
// the checks at function entries and before bulk operations.
func TestDeadlineStopsAnyWork(t *testing.T) {
	for _, name := range []string{"recursion.wasm", "bulk-fill.wasm"} {
		for _, mode := range []deadlineMode{modeInstrument, modeCloseOnDone} {
			t.Run(fmt.Sprintf("%s/%s", name, modeNames[mode]), func(t *testing.T) {
				p := open(t, name, func(c *Config) { c.CallTimeout = pipeline.Duration(50 * time.Millisecond); c.PoolSize = 1 }, withMode(mode))
				var err error
				within(t, func() { _, err = p.Call(context.Background(), abi.HookRequest, &abi.Input{Req: request("m")}) })
				e := wantCode(t, err, "plugin_timeout")
				if e.Kind != core.KindTimeout || !strings.Contains(e.Message, "did not finish within its call_timeout of 50ms; the instance was replaced") {
					t.Fatalf("err = %#v", e)
				}
				if n := p.pool.idleCount(); n != 0 {
					t.Fatalf("the timed-out instance went back to the pool (%d idle)", n)
				}
			})
		}
	}
}

// blockedDeliverer holds a deliver call until the call's deadline has
// passed, so that the guest answers late.
type blockedDeliverer struct{ p *Plugin }

func (d *blockedDeliverer) Deliver(context.Context, string, []byte) error {
	for !d.fired() {
		time.Sleep(time.Millisecond)
	}
	return nil
}

func (d *blockedDeliverer) fired() bool {
	d.p.mu.RLock()
	defer d.p.mu.RUnlock()
	for _, inst := range d.p.byMod {
		if inst.fired.Load() {
			return true
		}
	}
	return false
}

// TestLateAnswerRefused checks that an answer given after the deadline (the
// guest was in a host function when it passed) is refused as a timeout,
// logged with the overrun, and that the instance is replaced.
func TestLateAnswerRefused(t *testing.T) {
	d := &blockedDeliverer{}
	logs := &logbuf.Buffer{}
	p := open(t, "conformance-wat.wasm", func(c *Config) { c.CallTimeout = pipeline.Duration(20 * time.Millisecond); c.PoolSize = 1 },
		WithDeliverer(d), WithLogger(slog.New(slog.NewTextHandler(logs, nil))))
	d.p = p
	var err error
	within(t, func() {
		_, err = p.Call(context.Background(), abi.HookRequest, &abi.Input{Req: request("conf-deliver")})
	})
	e := wantCode(t, err, "plugin_timeout")
	if !strings.Contains(e.Message, "did not finish within its call_timeout of 20ms: it answered ") || !strings.Contains(e.Message, "late, and the answer was refused") {
		t.Fatalf("message = %q", e.Message)
	}
	if !strings.Contains(logs.String(), "plugin answered after its deadline; the answer is refused") || !strings.Contains(logs.String(), "overrun=") {
		t.Fatalf("log:\n%s", logs)
	}
	if n := p.pool.idleCount(); n != 0 {
		t.Fatalf("the late instance went back to the pool (%d idle)", n)
	}
}

// TestCallEndsWithContext checks that a call ends when its context does,
// before a far call_timeout: cancelled (the client left) or past its
// deadline.
func TestCallEndsWithContext(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	ctxs := []struct {
		name string
		ctx  context.Context
		want error
	}{{"cancelled", cancelled, context.Canceled}, {"deadline", expired, context.DeadlineExceeded}}
	for _, mode := range []deadlineMode{modeInstrument, modeCloseOnDone} {
		for _, c := range ctxs {
			t.Run(modeNames[mode]+"/"+c.name, func(t *testing.T) {
				p := open(t, "conformance-wat.wasm", func(c *Config) { c.PoolSize = 1 }, withMode(mode)) // call_timeout 1m
				var err error
				within(t, func() { _, err = p.Call(c.ctx, abi.HookRequest, &abi.Input{Req: request("conf-loop")}) })
				e := wantCode(t, err, "plugin_cancelled")
				if !errors.Is(err, c.want) || e.Kind != core.KindTimeout {
					t.Fatalf("err = %v, want it to wrap %v", err, c.want)
				}
				if n := p.pool.idleCount(); n != 0 {
					t.Fatalf("the stopped instance went back to the pool (%d idle)", n)
				}
			})
		}
	}
}

// TestStageTimeoutStopsPlugin is the pipeline's view: a stage timeout
// shorter than call_timeout ends the call with the stage's 504.
func TestStageTimeoutStopsPlugin(t *testing.T) {
	path := fixture(t, "conformance-wat.wasm")
	cfg := map[string]any{"path": path, "sha256": sum(t, path), "deliver_to": []string{"https://allowed.example/"},
		"emit_to": []string{"audit"}, "call_timeout": "1m", "pool_size": 1}
	p, err := pipeline.Build([]pipeline.Spec{
		{Name: "plugin", Kind: "wasm", Config: cfg, OnError: "fail_closed", Timeout: 50 * time.Millisecond},
		{Name: "wasm-test-echo", Kind: pipeline.KindBuiltin},
	}, pipeline.Env{Log: quietLog(), Upstreams: upstreams})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		p.Close(ctx)
		cancel()
	}()
	eng := core.New(core.WithPipeline(p), core.WithFormats(openai.New()), core.WithUpstream(upstreams["primary"]), core.WithLogger(quietLog()))
	within(t, func() {
		_, err = eng.Do(context.Background(), &core.Request{Path: "/v1/chat/completions",
			Body: []byte(`{"model":"conf-loop","messages":[{"role":"user","content":"hi"}]}`)})
	})
	if e := wantCode(t, err, "stage_timeout"); e.HTTPStatus() != 504 {
		t.Fatalf("status %d, want 504", e.HTTPStatus())
	}
}

// TestStartDeadline checks that a start function that never returns fails
// the load, naming the plugin and what timed out, instead of hanging.
func TestStartDeadline(t *testing.T) {
	path := fixture(t, "start-loop.wasm")
	for _, mode := range []deadlineMode{modeInstrument, modeCloseOnDone} {
		t.Run(modeNames[mode], func(t *testing.T) {
			var err error
			within(t, func() {
				var p *Plugin
				p, err = Open(context.Background(), "looper", Config{Path: path, SHA256: sum(t, path)},
					WithLogger(quietLog()), withMode(mode), withStartTimeout(100*time.Millisecond))
				if err == nil {
					p.Close(context.Background())
				}
			})
			e := wantCode(t, err, "plugin_timeout")
			if want := "plugin looper: the module's start function did not finish within 100ms"; !strings.HasPrefix(e.Message, want) {
				t.Fatalf("message = %q\nwant it to start with %q", e.Message, want)
			}
		})
	}
}

// TestTrapIsNotOutOfMemory checks that a trap close to the memory limit is
// a trap, and that a refused memory.grow the guest coped with does not make
// a later trap out of memory.
func TestTrapIsNotOutOfMemory(t *testing.T) {
	for _, mode := range []deadlineMode{modeInstrument, modeCloseOnDone} {
		t.Run(modeNames[mode], func(t *testing.T) {
			p := open(t, "trap.wasm", func(c *Config) { c.MemoryLimitPages = 8; c.PoolSize = 1 }, withMode(mode))
			req := request("m")
			_, err := p.Call(context.Background(), abi.HookRequest, &abi.Input{Req: req})
			wantCode(t, err, "plugin_trap")
			if mode != modeInstrument {
				return // without the rewrite a failed grow leaves no trace
			}
			resp := &core.Response{Status: 200, Body: []byte(`{}`)}
			if _, err := p.Call(context.Background(), abi.HookResponse, &abi.Input{Req: req, Resp: resp}); err != nil {
				t.Fatalf("the hook that copes with a refused grow: %v", err)
			}
			_, err = p.Call(context.Background(), abi.HookRequest, &abi.Input{Req: req})
			wantCode(t, err, "plugin_trap")
		})
	}
}
