package tollgate_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate"
	"github.com/tollgate-dev/tollgate/config"
	"github.com/tollgate-dev/tollgate/core"
)

// A rego stage's decision log with `sink: audit` goes through the durable
// outbox into the track stage's sink "audit", which takes no usage events;
// the usage sink gets no decisions.
func TestDecisionLogsGoThroughTheOutboxToTheirSink(t *testing.T) {
	dir := t.TempDir()
	policy := filepath.Join(dir, "policy.rego")
	if err := os.WriteFile(policy, []byte("package tollgate.request\n\ndeny contains \"no gpt-4 here\" if input.request.model == \"gpt-4\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	audit := filepath.Join(dir, "audit.jsonl")
	g := newGateway(t, `
pipeline:
  - {name: guardrails, kind: rego, config: {paths: [`+policy+`], decision_log: {sink: audit}}}
  - {name: call, kind: builtin}
  - name: track
    kind: builtin
    config:
      sinks:
        - {type: jsonl, path: `+filepath.Join(dir, "usage.jsonl")+`}
        - {type: jsonl, name: audit, path: `+audit+`, usage_events: false}
`)
	g.usage = filepath.Join(dir, "usage.jsonl")
	h := g.eng.Handler()
	for _, model := range []string{"gpt-4", "gpt-4o-mini"} {
		req := httptest.NewRequest(http.MethodPost, "/v1/chat/completions",
			strings.NewReader(`{"model":"`+model+`","messages":[{"role":"user","content":"hi"}]}`))
		req = req.WithContext(core.WithCustomer(context.Background(), "acme"))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		io.Copy(io.Discard, rec.Body)
	}
	evs := g.events(t) // closes the engine: the decision log flushes into the outbox first
	if len(evs) != 2 {
		t.Fatalf("%d usage events; want 2", len(evs))
	}
	b, err := os.ReadFile(audit)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], `"decision_id"`) || !strings.Contains(string(b), `"denied":true`) ||
		!strings.Contains(string(b), `"no gpt-4 here"`) {
		t.Fatalf("audit sink has %d lines, want the 2 decisions:\n%s", len(lines), b)
	}
	if u, _ := os.ReadFile(g.usage); strings.Contains(string(u), "decision_id") {
		t.Fatalf("the usage sink got decisions:\n%s", u)
	}
}

// A decision log or plugin naming a sink no track stage has is a config
// error, found by validate as well as at start.
func TestUnknownSinkReferenceIsAConfigError(t *testing.T) {
	dir := t.TempDir()
	policy := filepath.Join(dir, "policy.rego")
	os.WriteFile(policy, []byte("package tollgate.request\n"), 0o600)
	path := filepath.Join(dir, "tollgate.yaml")
	os.WriteFile(path, []byte(`
data_dir: `+dir+`
pipeline:
  - {name: guardrails, kind: rego, config: {paths: [`+policy+`], decision_log: {sink: audit}}}
  - {name: call, kind: builtin}
  - {name: track, kind: builtin, config: {sinks: [{type: jsonl, path: `+filepath.Join(dir, "u.jsonl")+`}]}}
`), 0o600)
	cfg, err := config.Load(config.Options{Path: path, Environ: []string{"OPENAI_API_KEY=sk-test"}})
	if err != nil {
		t.Fatal(err)
	}
	want := `pipeline[0] (guardrails): config: decision_log.sink: no track stage has a sink named "audit"`
	ups, err := tollgate.Upstreams(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := tollgate.CheckPipeline(cfg, ups, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("validate: %v\nwant an error containing %q", err, want)
	}
	if _, err := tollgate.New(cfg, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("start: %v\nwant an error containing %q", err, want)
	}
}
