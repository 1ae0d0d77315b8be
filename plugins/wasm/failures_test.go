package wasm

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/pipeline"
	"github.com/tollgate-dev/tollgate/providers/openai"
)

func init() {
	pipeline.RegisterBuiltin("wasm-test-echo", func(pipeline.Spec, pipeline.Env) (any, error) {
		return core.StageFunc(func(ctx context.Context, req *core.Request, _ core.HandlerFunc) (*core.Response, error) {
			return echo(ctx, req)
		}), nil
	})
}

// build builds a pipeline of one wasm stage (config from cfg) before an
// echoing terminal stage.
func build(t *testing.T, cfg map[string]any, onError string) (*core.Pipeline, error) {
	t.Helper()
	return pipeline.Build([]pipeline.Spec{
		{Name: "plugin", Kind: "wasm", Config: cfg, OnError: onError},
		{Name: "wasm-test-echo", Kind: pipeline.KindBuiltin},
	}, pipeline.Env{Log: quietLog(), Upstreams: upstreams, DataDir: filepath.Dir(testCache) + "/tollgate-wasm-test"})
}

// TestLoadFailures checks every reason a module is refused at load, with
// the message a user sees from `tollgate validate` or at start.
func TestLoadFailures(t *testing.T) {
	conf := fixture(t, "conformance-wat.wasm")
	tests := []struct {
		name string
		file string
		edit func(map[string]any)
		want string
	}{
		{"bad hash", "conformance-wat.wasm", func(c map[string]any) { c["sha256"] = strings.Repeat("ab", 32) },
			"pipeline[0] (plugin): sha256: mismatch: the config pins abababab"},
		{"missing hash", "conformance-wat.wasm", func(c map[string]any) { delete(c, "sha256") },
			"pipeline[0] (plugin): sha256: required: pin the module; testdata/conformance-wat.wasm has sha256 " + sum(t, conf)},
		{"missing file", "", func(c map[string]any) { c["path"] = "testdata/nope.wasm" },
			"pipeline[0] (plugin): path: open testdata/nope.wasm: no such file or directory"},
		{"missing export", "bad/no-alloc.wasm", nil,
			"the module exports no function tollgate_alloc, which ABI v1 requires"},
		{"wrong ABI version", "bad/abi-v2.wasm", nil,
			"the module speaks tollgate plugin ABI v2, and this tollgate serves ABI v1 only"},
		{"not a plugin", "bad/no-marker.wasm", nil,
			"the module is not a tollgate plugin: it exports no tollgate_abi_v1 marker function"},
		{"a WASI command", "bad/command.wasm", nil,
			"the module is a WASI command (it exports _start) without the tollgate_abi_v1 marker: build plugins as reactors"},
		{"import tollgate does not provide", "bad/foreign-import.wasm", nil,
			"the module imports env.open_socket, which tollgate does not provide"},
		{"ungranted host function", "conformance-wat.wasm", func(c map[string]any) { delete(c, "deliver_to") },
			"the module imports tollgate.deliver, but its config grants it no destination: list the URLs it may deliver to under deliver_to"},
		{"ungranted host function (Go SDK)", "conformance-go.wasm", func(c map[string]any) { delete(c, "deliver_to") },
			"the module imports tollgate.deliver, but its config grants it no destination"},
		{"memory over the limit at start", "bad/big-memory.wasm", func(c map[string]any) { c["memory_limit_pages"] = 256 },
			"the module needs 512 pages of memory to start, over its memory_limit_pages of 256: raise memory_limit_pages"},
		{"bad destination", "conformance-wat.wasm", func(c map[string]any) { c["deliver_to"] = []string{"ftp://x"} },
			`pipeline[0] (plugin): deliver_to[0]: "ftp://x" is not an http(s) URL`},
		{"unknown key", "conformance-wat.wasm", func(c map[string]any) { c["pool"] = 3 },
			`pipeline[0] (plugin): config: unknown key "pool"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := map[string]any{"deliver_to": []string{"https://allowed.example/"}, "emit_to": []string{"audit"}}
			if tt.file != "" {
				path := fixture(t, tt.file)
				cfg["path"], cfg["sha256"] = path, sum(t, path)
			}
			if tt.edit != nil {
				tt.edit(cfg)
			}
			_, err := build(t, cfg, "")
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error:\n%v\nwant it to contain:\n%s", err, tt.want)
			}
		})
	}
}

// TestCallFailures checks that a trap, an infinite loop and a memory bomb
// fail only their call, as on_error says, with the error a client sees,
// and that the next call runs on a fresh instance.
func TestCallFailures(t *testing.T) {
	// Only the infinite loop meets the deadline: the others get one long
	// enough for a loaded machine, as tests assert no wall-clock time.
	tests := []struct {
		model      string
		timeout    string
		wantCode   string
		wantStatus int
		wantMsg    string
	}{
		{"conf-trap", "1m", "plugin_trap", 500, "failed: "},
		{"conf-loop", "50ms", "plugin_timeout", 504, "did not finish within its call_timeout of 50ms; the instance was replaced"},
		{"conf-oom", "1m", "plugin_out_of_memory", 500, "ran out of memory (memory_limit_pages 256 = 16 MiB); the instance was replaced"},
		{"conf-fail", "1m", "plugin_failed", 500, "plugin: conformance failure"},
	}
	for _, name := range conformancePlugins {
		path := fixture(t, name)
		for _, onError := range []string{"fail_closed", "fail_open"} {
			for _, tt := range tests {
				cfg := map[string]any{"path": path, "sha256": sum(t, path), "deliver_to": []string{"https://allowed.example/"},
					"emit_to": []string{"audit"}, "call_timeout": tt.timeout, "memory_limit_pages": 256, "pool_size": 1}
				p, err := build(t, cfg, onError)
				if err != nil {
					t.Fatal(err)
				}
				eng := core.New(core.WithPipeline(p), core.WithFormats(openai.New()), core.WithUpstream(upstreams["primary"]), core.WithLogger(quietLog()))
				t.Run(name+"/"+onError+"/"+tt.model, func(t *testing.T) {
					resp, err := eng.Do(context.Background(), &core.Request{Path: "/v1/chat/completions",
						Body: []byte(`{"model":"` + tt.model + `","messages":[{"role":"user","content":"hi"}]}`)})
					if onError == "fail_open" {
						if err != nil || resp.Status != 200 {
							t.Fatalf("fail_open: want the call to go on, got %v", err)
						}
					} else {
						var e *core.Error
						if !errors.As(err, &e) || e.Code != tt.wantCode || e.HTTPStatus() != tt.wantStatus || e.Stage != "plugin" || !strings.Contains(e.Message, tt.wantMsg) {
							t.Fatalf("got %v (%#v)\nwant code %s, status %d, message containing %q", err, e, tt.wantCode, tt.wantStatus, tt.wantMsg)
						}
						t.Logf("the client sees %d: %v", e.HTTPStatus(), e)
					}
					if tt.model == "conf-loop" {
						return // a fresh Go instance's first call may not meet 50ms on a loaded machine: see TestTimeoutReplacesInstance
					}
					// The instance was replaced: the next call works.
					resp, err = eng.Do(context.Background(), &core.Request{Path: "/v1/chat/completions",
						Body: []byte(`{"model":"conf-model","messages":[{"role":"user","content":"hi"}]}`)})
					if err != nil || resp.Header.Get("X-Model") != "conf-rewritten" {
						t.Fatalf("the call after a failure: %v", err)
					}
				})
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				p.Close(ctx)
				cancel()
			}
		}
	}
}

// TestTimeoutReplacesInstance checks, in both deadline modes, that a call
// that overruns its deadline is stopped, its instance closed and not
// pooled, and that the next call runs on a fresh instance.
func TestTimeoutReplacesInstance(t *testing.T) {
	for _, name := range conformancePlugins {
		for _, mode := range []deadlineMode{modeInstrument, modeCloseOnDone} {
			if mode == modeCloseOnDone && name == "conformance-go.wasm" {
				continue // the fallback mode is the same for every guest; the WAT one compiles fast
			}
			t.Run(fmt.Sprintf("%s/mode%d", name, mode), func(t *testing.T) {
				p := open(t, name, func(c *Config) { c.CallTimeout = pipeline.Duration(30 * time.Millisecond); c.PoolSize = 1 }, withMode(mode))
				if got := p.instrumented; got != (mode == modeInstrument) {
					t.Fatalf("instrumented = %v", got)
				}
				stage := NewStage(p, "conf", upstreams)
				_, err := stage.Handle(context.Background(), request("conf-loop"), echo)
				var e *core.Error
				if !errors.As(err, &e) || e.Code != "plugin_timeout" {
					t.Fatalf("err = %v", err)
				}
				if n := p.pool.idleCount(); n != 0 {
					t.Fatalf("the timed-out instance went back to the pool (%d idle)", n)
				}
				p.timeout = time.Minute
				resp, err := stage.Handle(context.Background(), request("conf-respond"), echo)
				if err != nil || string(resp.Body) != `{"ok":true}` {
					t.Fatalf("the call after the timeout: %v", err)
				}
				if n := p.pool.idleCount(); n != 1 {
					t.Fatalf("idle = %d, want the fresh instance back in the pool", n)
				}
			})
		}
	}
}
