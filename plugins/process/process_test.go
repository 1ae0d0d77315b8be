package process

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/pipeline"
	"github.com/tollgate-dev/tollgate/providers/openai"
)

// The process plugin used here is the wasm conformance plugin's Go source
// built natively by `make plugins`.
const binary = "testdata/conformance-proc"

func sum(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Skipf("%s is missing: run `make plugins` (make test does) to build the test plugins", path)
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

type recorder struct {
	mu  sync.Mutex
	got []string
}

func (r *recorder) Deliver(_ context.Context, dest string, payload []byte) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, dest+" "+string(payload))
	return nil
}

func start(t testing.TB, edit func(*Config), d *recorder) *Plugin {
	t.Helper()
	cfg := Config{Path: binary, SHA256: sum(t, binary), CallTimeout: pipeline.Duration(time.Minute),
		RestartBackoff: pipeline.Duration(10 * time.Millisecond), Config: map[string]any{"greeting": "hi"},
		DeliverTo: []string{"https://allowed.example/"}, EmitTo: []string{"audit"}}
	if edit != nil {
		edit(&cfg)
	}
	opts := []Option{WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))}
	if d != nil {
		opts = append(opts, WithDeliverer(d))
	}
	p, err := Open(context.Background(), "proc", cfg, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close(context.Background()) })
	return p
}

func request(model string) *core.Request {
	req := &core.Request{ID: "req-1", Format: openai.New(), Operation: "chat.completions", Method: http.MethodPost,
		Path: "/v1/chat/completions", Header: http.Header{}, Customer: "acme",
		Body: []byte(`{"model":"` + model + `","messages":[{"role":"user","content":"hello"}]}`)}
	req.Format.Parse(req)
	return req
}

func echo(_ context.Context, req *core.Request) (*core.Response, error) {
	return &core.Response{Status: 200, Body: req.Body}, nil
}

func TestProcessPlugin(t *testing.T) {
	d := &recorder{}
	p := start(t, nil, d)
	if got := strings.Join(p.Hooks(), ","); got != "request,response,stream_event,usage" {
		t.Fatalf("hooks = %s", got)
	}
	stage := NewStage(p, "proc", nil)
	tests := []struct {
		model string
		check func(*core.Request, *core.Response, error) bool
	}{
		{"conf-model", func(r *core.Request, resp *core.Response, err error) bool {
			return err == nil && r.Model == "conf-rewritten" && strings.Contains(string(resp.Body), `"model":"conf-rewritten"`)
		}},
		{"conf-deny", func(_ *core.Request, _ *core.Response, err error) bool {
			var e *core.Error
			return errors.As(err, &e) && e.Kind == core.KindDenied && e.Code == "conformance"
		}},
		{"conf-config", func(_ *core.Request, resp *core.Response, err error) bool {
			return err == nil && string(resp.Body) == `{"greeting":"hi"}`
		}},
		{"conf-deliver", func(_ *core.Request, resp *core.Response, err error) bool {
			return err == nil && string(resp.Body) == `{"code":0}` && len(d.got) == 1 && d.got[0] == `https://allowed.example/ingest {"conformance":"payload"}`
		}},
		{"conf-deliver-denied", func(_ *core.Request, _ *core.Response, err error) bool {
			var e *core.Error
			return errors.As(err, &e) && e.Code == "plugin_delivery_denied" &&
				strings.Contains(e.Message, `destination "https://denied.example/ingest" is not on the plugin's deliver_to allow-list`)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.model, func(t *testing.T) {
			req := request(tt.model)
			resp, err := stage.Handle(context.Background(), req, echo)
			if !tt.check(req, resp, err) {
				t.Fatalf("resp = %+v, err = %v", resp, err)
			}
		})
	}
}

// TestCrashRestart crashes the plugin process with a call: that call and
// those until the restart fail (the stage follows on_error), then the
// restarted plugin serves again.
func TestCrashRestart(t *testing.T) {
	p := start(t, nil, nil)
	stage := NewStage(p, "proc", nil)
	_, err := stage.Handle(context.Background(), request("conf-trap"), echo)
	var e *core.Error
	if !errors.As(err, &e) || e.Code != "plugin_crashed" || !strings.Contains(e.Message, "process plugin proc crashed during the call") {
		t.Fatalf("err = %v", err)
	}
	t.Logf("the crashing call: %v", err)
	deadline := time.Now().Add(time.Minute)
	sawDown := false
	for {
		resp, err := stage.Handle(context.Background(), request("conf-model"), echo)
		if err == nil {
			if !strings.Contains(string(resp.Body), "conf-rewritten") {
				t.Fatalf("after restart: %s", resp.Body)
			}
			break
		}
		if errors.As(err, &e) && e.Code == "plugin_down" {
			sawDown = true
		} else {
			t.Fatalf("while restarting: %v", err)
		}
		if time.Now().After(deadline) {
			t.Fatal("the plugin was not restarted")
		}
		time.Sleep(5 * time.Millisecond)
	}
	p.mu.Lock()
	restarts := p.slots[0].restarts
	p.mu.Unlock()
	if restarts != 1 {
		t.Fatalf("restarts = %d", restarts)
	}
	_ = sawDown // whether a call saw the plugin down depends on timing
}

// TestPoolRestart kills one of two processes, between calls and then
// during one: the other serves every call meanwhile, and the killed one
// is restarted.
func TestPoolRestart(t *testing.T) {
	p := start(t, func(c *Config) { c.Processes = 2 }, nil)
	stage := NewStage(p, "proc", nil)
	serve := func(when string) {
		t.Helper()
		for range 4 {
			resp, err := stage.Handle(context.Background(), request("conf-model"), echo)
			if err != nil || !strings.Contains(string(resp.Body), "conf-rewritten") {
				t.Fatalf("%s: %v", when, err)
			}
		}
	}
	restarted := func(n int) func() bool {
		return func() bool {
			p.mu.Lock()
			defer p.mu.Unlock()
			return p.slots[0].restarts+p.slots[1].restarts == n && p.up == 2
		}
	}

	p.mu.Lock()
	victim := p.slots[0].cur
	p.mu.Unlock()
	if proc, err := os.FindProcess(victim.client.ReattachConfig().Pid); err != nil || proc.Kill() != nil {
		t.Fatal("cannot kill the plugin's process", err)
	}
	waitFor(t, "the killed process to exit", victim.client.Exited)
	serve("after a process was killed between calls")
	waitFor(t, "the killed process to be restarted", restarted(1))

	_, err := stage.Handle(context.Background(), request("conf-trap"), echo)
	if codeOf(err) != "plugin_crashed" {
		t.Fatalf("the crashing call: %v", err)
	}
	serve("after a process crashed during a call")
	waitFor(t, "the crashed process to be restarted", restarted(2))
	serve("after the restarts")
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited a minute for %s", what)
		}
	}
}

func codeOf(err error) string {
	var e *core.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

func TestLoadFailures(t *testing.T) {
	s := sum(t, binary)
	tests := []struct {
		name string
		cfg  Config
		sink bool
		want string
	}{
		{"bad hash", Config{Path: binary, SHA256: strings.Repeat("0", 64)}, false, "sha256: mismatch: the config pins 0000"},
		{"missing hash", Config{Path: binary}, false, "sha256: required: pin the executable; testdata/conformance-proc has sha256 " + s},
		{"not a plugin", Config{Path: "/bin/true"}, false, "is not a tollgate process plugin, or it failed at start"},
		{"grant", Config{Path: binary, SHA256: s, DeliverTo: []string{"nope"}}, false, `deliver_to[0]: "nope" is not an http(s) URL`},
		{"negative processes", Config{Path: binary, SHA256: s, Processes: -1}, false, "processes: want 1 to 64, got -1"},
		{"too many processes", Config{Path: binary, SHA256: s, Processes: 65}, false, "processes: want 1 to 64, got 65"},
		{"sink processes", Config{Path: binary, SHA256: s, Processes: 2}, true, "processes: a sink runs one process (got 2): tracking hands a sink one batch at a time, in order, so more would sit idle"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name == "not a plugin" {
				tt.cfg.SHA256 = sum(t, "/bin/true")
			}
			opts := []Option{WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))}
			if tt.sink {
				opts = append(opts, asSink())
			}
			_, err := Open(context.Background(), "proc", tt.cfg, opts...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v\nwant %q", err, tt.want)
			}
		})
	}
}

// BenchmarkCall is one call through a stage whose plugin serves the request
// and response hooks: two round trips to the plugin process.
func BenchmarkCall(b *testing.B) {
	p := start(b, nil, nil)
	stage := NewStage(p, "proc", nil)
	req := request("gpt-4o")
	ctx := context.Background()
	b.ReportAllocs()
	cpu := startCPU(p)
	for b.Loop() {
		if _, err := stage.Handle(ctx, req, echo); err != nil {
			b.Fatal(err)
		}
	}
	cpu.report(b)
}

// TestDownMessage checks the error of a call while the plugin is down
// once its restart time has passed (a start is under way): it said
// "restarting in -109ms".
func TestDownMessage(t *testing.T) {
	p := &Plugin{name: "proc", slots: []*slot{{lastErr: errors.New("its process exited: boom"), nextStart: time.Now().Add(-time.Second)}}}
	_, _, err := p.acquire(context.Background())
	want := "stage proc: process plugin proc is down (its process exited: boom); restarting now"
	if err == nil || err.Error() != want {
		t.Fatalf("err = %v\nwant %s", err, want)
	}
}
