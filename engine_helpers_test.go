package tollgate_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate"
	"github.com/tollgate-dev/tollgate/config"
	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/providers/providertest"
)

// testKey is the provider key the tests plant; no log or event may show it.
const testKey = "sk-test-planted-key-4f9a2c"

// The Anthropic and Gemini keys the tests plant.
const (
	testAnthropicKey = "sk-ant-test-planted-7d3e"
	testGeminiKey    = "AIzaTestPlantedKey91b0"
)

// gateway is an engine under test over a fake provider.
type gateway struct {
	eng      *core.Engine
	upstream *providertest.Server
	usage    string // the jsonl sink's file
	closed   bool
}

// newGateway builds an engine from a config whose openai provider is a fake;
// extra is YAML appended to the config (it may replace the pipeline).
func newGateway(t *testing.T, pipelineYAML string, opts ...providertest.Option) *gateway {
	t.Helper()
	up := providertest.NewServer(t, opts...)
	dir := t.TempDir()
	usage := filepath.Join(dir, "usage.jsonl")
	if pipelineYAML == "" {
		pipelineYAML = `
pipeline:
  - {name: validate, kind: builtin, config: {max_body_bytes: 4096}}
  - {name: call, kind: builtin}
  - {name: track, kind: builtin, config: {sinks: [{type: jsonl, path: ` + usage + `}]}}
`
	}
	eng := engineFor(t, dir, up.URL, "log: {level: debug, format: json}\n"+pipelineYAML, slog.New(slog.DiscardHandler))
	g := &gateway{eng: eng, upstream: up, usage: usage}
	t.Cleanup(func() { g.close(t) })
	return g
}

// engineFor builds an engine from a config in dir whose three providers
// are served at upURL, with rest (YAML: the pipeline, and more) after them.
func engineFor(t *testing.T, dir, upURL, rest string, log *slog.Logger) *core.Engine {
	t.Helper()
	cfgYAML := fmt.Sprintf(`
data_dir: %s
providers:
  openai: {base_url: %s/v1, api_key_env: TEST_OPENAI_KEY}
  anthropic: {base_url: %[2]s, api_key_env: TEST_ANTHROPIC_KEY}
  gemini: {base_url: %[2]s, api_key_env: TEST_GEMINI_KEY}
%[3]s`, dir, upURL, rest)
	path := filepath.Join(dir, "tollgate.yaml")
	if err := os.WriteFile(path, []byte(cfgYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(config.Options{Path: path, Environ: []string{"TEST_OPENAI_KEY=" + testKey,
		"TEST_ANTHROPIC_KEY=" + testAnthropicKey, "TEST_GEMINI_KEY=" + testGeminiKey}})
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	eng, err := tollgate.New(cfg, log)
	if err != nil {
		t.Fatalf("engine: %v", err)
	}
	return eng
}

// close flushes the engine's usage events.
func (g *gateway) close(t *testing.T) {
	t.Helper()
	if g.closed {
		return
	}
	g.closed = true
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := g.eng.Close(ctx); err != nil {
		t.Errorf("engine close: %v", err)
	}
}

// events flushes the engine and returns the usage events it wrote.
func (g *gateway) events(t *testing.T) []core.UsageEvent {
	t.Helper()
	g.close(t)
	f, err := os.Open(g.usage)
	if err != nil {
		t.Fatalf("usage file: %v", err)
	}
	defer f.Close()
	var out []core.UsageEvent
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var ev core.UsageEvent
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("usage line %q: %v", sc.Text(), err)
		}
		out = append(out, ev)
	}
	return out
}

// onlyEvent returns the single usage event the engine wrote.
func (g *gateway) onlyEvent(t *testing.T) core.UsageEvent {
	t.Helper()
	evs := g.events(t)
	if len(evs) != 1 {
		t.Fatalf("want 1 usage event, got %d: %+v", len(evs), evs)
	}
	return evs[0]
}

// wantUsage checks an event's tokens against the fake provider's rule.
func wantUsage(t *testing.T, ev core.UsageEvent, want providertest.Usage) {
	t.Helper()
	got := [6]int64{ev.InputTokens, ev.OutputTokens, ev.TotalTokens, ev.CachedInputTokens, ev.CacheWriteTokens, ev.ReasoningTokens}
	exp := [6]int64{int64(want.PromptTokens), int64(want.CompletionTokens), int64(want.TotalTokens), int64(want.CachedTokens),
		int64(want.CacheWriteTokens), int64(want.ReasoningTokens)}
	if got != exp {
		t.Errorf("usage [in out total cached cache_write reasoning] = %v, want %v", got, exp)
	}
}
