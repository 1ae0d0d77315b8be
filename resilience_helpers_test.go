package tollgate_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate"
	"github.com/tollgate-dev/tollgate/config"
	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/internal/logbuf"
)

// stack is an engine built from a whole config (providers, pipeline, redis)
// for the resilience tests; {usage} in the YAML becomes its jsonl file.
type stack struct {
	eng    *core.Engine
	h      http.Handler
	usage  string
	logs   *logbuf.Buffer
	closed bool
}

func newStack(t *testing.T, yaml string) *stack {
	t.Helper()
	dir := t.TempDir()
	usage := filepath.Join(dir, "usage.jsonl")
	yaml = "data_dir: " + dir + "\n" + strings.ReplaceAll(yaml, "{usage}", usage)
	path := filepath.Join(dir, "tollgate.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(config.Options{Path: path, Environ: []string{"TEST_OPENAI_KEY=" + testKey}})
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	logs := &logbuf.Buffer{}
	eng, err := tollgate.New(cfg, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatalf("engine: %v", err)
	}
	s := &stack{eng: eng, h: eng.Handler(), usage: usage, logs: logs}
	t.Cleanup(func() { s.close(t) })
	return s
}

func (s *stack) close(t *testing.T) {
	t.Helper()
	if s.closed {
		return
	}
	s.closed = true
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.eng.Close(ctx); err != nil {
		t.Errorf("engine close: %v", err)
	}
}

// events flushes the engine and reads its usage events.
func (s *stack) events(t *testing.T) []core.UsageEvent {
	t.Helper()
	s.close(t)
	return readEvents(t, s.usage)
}

// reply is an answer the stack gave.
type reply struct {
	status  int
	header  http.Header
	body    string
	aborted bool // a stream cut off mid-way
}

// chatBody is a chat request saying text.
func chat(text string, extra ...string) string {
	return `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"` + text + `"}]` + strings.Join(extra, "") + `}`
}

// do sends a call through the engine's handler; header holds name, value
// pairs.
func (s *stack) do(t *testing.T, body string, header ...string) reply {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Tollgate-Customer", "acme")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	aborted := func() (aborted bool) {
		defer func() {
			if r := recover(); r != nil {
				if r != http.ErrAbortHandler {
					panic(r)
				}
				aborted = true // the stream was cut off, as a server would
			}
		}()
		s.h.ServeHTTP(w, req)
		return false
	}()
	b, _ := io.ReadAll(w.Result().Body)
	return reply{status: w.Code, header: w.Header(), body: string(b), aborted: aborted}
}

func providersYAML(urls ...string) string {
	var b strings.Builder
	b.WriteString("providers:\n")
	for i, u := range urls {
		name := "openai"
		if i > 0 {
			name = fmt.Sprintf("backup%d", i)
		}
		fmt.Fprintf(&b, "  %s: {type: openai, base_url: %s/v1, api_key_env: TEST_OPENAI_KEY}\n", name, u)
	}
	return b.String()
}

const trackYAML = "  - {name: track, kind: builtin, config: {sinks: [{type: jsonl, path: \"{usage}\"}]}}\n"

// readEvents reads the usage events of a jsonl file.
func readEvents(t *testing.T, path string) []core.UsageEvent {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("usage file: %v", err)
	}
	var out []core.UsageEvent
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if line == "" {
			continue
		}
		var ev core.UsageEvent
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("usage line %q: %v", line, err)
		}
		out = append(out, ev)
	}
	return out
}
