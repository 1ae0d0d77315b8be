package process_test

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
	"github.com/tollgate-dev/tollgate/plugins/process"
	"github.com/tollgate-dev/tollgate/providers/openai"
)

// logRecords keeps the messages logged at warn and above.
type logRecords struct {
	mu   sync.Mutex
	msgs []string
}

func (l *logRecords) Enabled(_ context.Context, lv slog.Level) bool { return lv >= slog.LevelWarn }
func (l *logRecords) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.msgs = append(l.msgs, r.Message)
	return nil
}
func (l *logRecords) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecords) WithGroup(string) slog.Handler      { return l }

func (l *logRecords) count(substr string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, m := range l.msgs {
		if strings.Contains(m, substr) {
			n++
		}
	}
	return n
}

// openSelf starts the test binary as a process plugin (selfplugin_test.go)
// in the given mode.
func openSelf(t testing.TB, mode string, edit func(*process.Config), log slog.Handler) (*process.Plugin, error) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(exe)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(b)
	cfg := process.Config{Path: exe, Args: []string{mode}, SHA256: hex.EncodeToString(h[:]),
		CallTimeout: pipeline.Duration(time.Minute), RestartBackoff: pipeline.Duration(10 * time.Millisecond)}
	if edit != nil {
		edit(&cfg)
	}
	if log == nil {
		log = slog.NewTextHandler(io.Discard, nil)
	}
	p, err := process.Open(context.Background(), "self", cfg, process.WithLogger(slog.New(log)))
	if err == nil {
		t.Cleanup(func() { p.Close(context.Background()) })
	}
	return p, err
}

func selfRequest(model string, body []byte) *core.Request {
	if body == nil {
		body = []byte(`{"model":"` + model + `","messages":[{"role":"user","content":"hello"}]}`)
	}
	req := &core.Request{ID: "req-1", Format: openai.New(), Operation: "chat.completions", Method: http.MethodPost,
		Path: "/v1/chat/completions", Header: http.Header{}, Body: body}
	req.Format.Parse(req)
	return req
}

func next(_ context.Context, req *core.Request) (*core.Response, error) {
	return &core.Response{Status: 200, Body: []byte(`{"model":"` + req.Model + `"}`)}, nil
}

func codeOf(err error) string {
	var e *core.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// TestHungCallRestarts checks that a process that misses its call_timeout
// is killed and restarted: the calls waiting on it fail, the failure is
// logged once, and later calls are served by the new process instead of
// timing out behind the hung one.
func TestHungCallRestarts(t *testing.T) {
	logs := &logRecords{}
	p, err := openSelf(t, "sdk", func(c *process.Config) { c.CallTimeout = pipeline.Duration(300 * time.Millisecond) }, logs)
	if err != nil {
		t.Fatal(err)
	}
	stage := process.NewStage(p, "self", nil)
	// Four calls hang together: the plugin's one process takes one call at
	// a time, so three wait in the gateway behind the first, and fail when
	// it is killed.
	errs := handleAtOnce(stage, 4, "hang")
	timedOut := 0
	for _, err := range errs {
		switch codeOf(err) {
		case "plugin_timeout":
			timedOut++
			if !strings.Contains(err.Error(), "did not answer within its call_timeout of 300ms; it was killed, restarting") {
				t.Errorf("err = %v", err)
			}
		case "plugin_down":
		default:
			t.Errorf("err = %v, want plugin_timeout or plugin_down", err)
		}
	}
	if timedOut == 0 {
		t.Errorf("no call timed out: %v", errs)
	}
	for deadline := time.Now().Add(time.Minute); ; {
		_, err := stage.Handle(context.Background(), selfRequest("fine", nil), next)
		if err == nil {
			break
		}
		if codeOf(err) != "plugin_down" {
			t.Fatalf("after the hung call: %v (want plugin_down until the restart, then an answer)", err)
		}
		if !strings.Contains(err.Error(), "is down (it did not answer a call within its call_timeout of 300ms); restarting") {
			t.Fatalf("down: %v", err)
		}
		if time.Now().After(deadline) {
			t.Fatal("the plugin was not restarted")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if n := logs.count("did not answer within its call_timeout: killed it"); n != 1 {
		t.Errorf("logged %d times, want once: %q", n, logs.msgs)
	}
	if n := logs.count("process plugin restarted"); n != 0 {
		t.Errorf("restart logged at warn or above: %q", logs.msgs)
	}
}

// TestLargeDocuments sends documents and answers over gRPC's default 4 MiB
// limit: a 6 MiB prompt, answered with itself.
func TestLargeDocuments(t *testing.T) {
	p, err := openSelf(t, "sdk", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	stage := process.NewStage(p, "self", nil)
	body := []byte(`{"model":"echo","messages":[{"role":"user","content":"` + strings.Repeat("x", 6<<20) + `"}]}`)
	resp, err := stage.Handle(context.Background(), selfRequest("echo", body), next)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Body) != len(body) {
		t.Fatalf("answer of %d bytes, want %d", len(resp.Body), len(body))
	}
}

// TestMessageLimit checks the errors of documents and answers over the
// host's limit (lowered here to 1 MiB).
func TestMessageLimit(t *testing.T) {
	defer process.SetMaxMessage(1 << 20)()
	p, err := openSelf(t, "sdk", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	stage := process.NewStage(p, "self", nil)
	tests := []struct {
		name, model string
		size        int
		code, msg   string
	}{
		{"document", "echo", 2 << 20, "plugin_document_too_large", "the request document for process plugin self is 2097"},
		{"answer", "double", 600 << 10, "plugin_failed", "process plugin self: a message was over a size limit (this tollgate's is 1048576 bytes; a plugin built with an older plugins/sdk takes 4 MiB): grpc: received message larger than max"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := []byte(`{"model":"` + tt.model + `","messages":[{"role":"user","content":"` + strings.Repeat("x", tt.size) + `"}]}`)
			_, err := stage.Handle(context.Background(), selfRequest(tt.model, body), next)
			if codeOf(err) != tt.code || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("err = %v\nwant %s: %s", err, tt.code, tt.msg)
			}
		})
	}
}

// TestBrokenAnswers checks answers of a process plugin that break the ABI:
// each fails the stage with plugin_abi_violation.
func TestBrokenAnswers(t *testing.T) {
	p, err := openSelf(t, "sdk", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ups := map[string]*core.Upstream{"openai": {Name: "openai", Format: "openai"}, "anthropic": {Name: "anthropic", Format: "anthropic"}}
	stage := process.NewStage(p, "self", ups)
	tests := []struct{ model, msg string }{
		{"status-7", "the plugin answered respond with status 7: a respond status must be 200 to 599"},
		{"status-600", "the plugin answered respond with status 600"},
		{"to-anthropic", `the plugin routed the call to upstream "anthropic", which speaks anthropic, but the call (POST /v1/chat/completions) is in the openai format; openai upstreams: openai`},
	}
	for _, tt := range tests {
		t.Run(tt.model, func(t *testing.T) {
			resp, err := stage.Handle(context.Background(), selfRequest(tt.model, nil), next)
			if codeOf(err) != "plugin_abi_violation" || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("resp = %+v, err = %v\nwant plugin_abi_violation: %s", resp, err, tt.msg)
			}
		})
	}
}

// TestUnknownHookBits refuses a plugin whose Init reports hooks ABI v1
// does not define, as the WebAssembly host does.
func TestUnknownHookBits(t *testing.T) {
	_, err := openSelf(t, "hooks255", nil, nil)
	want := "the plugin reports hooks 255, with bits 0xf0 that ABI v1 does not define"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("err = %v\nwant %q", err, want)
	}
}
