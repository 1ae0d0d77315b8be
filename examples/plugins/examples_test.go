// Package plugins_test runs each example plugin, as built by `make plugins`,
// in the real plugin hosts.
package plugins_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/pipeline"
	"github.com/tollgate-dev/tollgate/plugins/process"
	"github.com/tollgate-dev/tollgate/plugins/wasm"
	"github.com/tollgate-dev/tollgate/providers/openai"
)

func artifact(t *testing.T, name, file string) (string, string) {
	t.Helper()
	path := filepath.Join(name, file)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Skipf("%s is missing: run `make plugins` (make test does) to build the example plugins", path)
	}
	h := sha256.Sum256(b)
	return path, hex.EncodeToString(h[:])
}

// slow is the tests' call deadline: long enough for a loaded machine, as
// tests assert no wall-clock time.
const slow = pipeline.Duration(time.Minute)

var log = slog.New(slog.NewTextHandler(io.Discard, nil))

func request(body string, meta map[string]string) *core.Request {
	req := &core.Request{ID: "req-42", Format: openai.New(), Operation: "chat.completions", Method: http.MethodPost,
		Path: "/v1/chat/completions", Header: http.Header{}, Body: []byte(body), Customer: "acme", Metadata: meta,
		Received: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	req.Format.Parse(req)
	return req
}

func echo(_ context.Context, req *core.Request) (*core.Response, error) {
	up := ""
	if req.Upstream != nil {
		up = req.Upstream.Name
	}
	return &core.Response{Status: 200, Header: http.Header{"X-Upstream": {up}}, Body: req.Body}, nil
}

type deliveries struct {
	mu  sync.Mutex
	got map[string][]string
}

func (d *deliveries) Deliver(_ context.Context, dest string, payload []byte) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.got == nil {
		d.got = map[string][]string{}
	}
	d.got[dest] = append(d.got[dest], string(payload))
	return nil
}

func TestVendorTracker(t *testing.T) {
	path, sum := artifact(t, "vendor-tracker", "vendor-tracker.wasm")
	d := &deliveries{}
	p, err := wasm.Open(context.Background(), "vendor", wasm.Config{Path: path, SHA256: sum, CallTimeout: slow,
		Config:    map[string]any{"endpoint": "https://collector.vendor.example/v1/events", "account": "acct_1"},
		DeliverTo: []string{"https://collector.vendor.example/v1/events"}}, wasm.WithLogger(log), wasm.WithDeliverer(d))
	if err != nil {
		t.Fatal(err)
	}
	sink := wasm.NewSink(p)
	defer sink.Close()
	ev := core.NewUsageEvent(&core.Outcome{Request: request(`{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`, map[string]string{"team": "ml"}),
		Status: core.StatusOK, HTTPStatus: 200, Usage: core.Usage{InputTokens: 12, OutputTokens: 30, CachedInputTokens: 2}})
	ev.TotalTokens = 42
	if err := sink.Write(context.Background(), []*core.UsageEvent{ev}); err != nil {
		t.Fatal(err)
	}
	got := d.got["https://collector.vendor.example/v1/events"]
	want := `{"event_id":"req-42","account":"acct_1","customer":"acme","product":"openai/gpt-4o","tokens":{"prompt":12,"completion":30,"cached":2,"total":42},"occurred_at":"2026-01-02T03:04:05Z","outcome":"ok","labels":{"team":"ml"}}`
	if len(got) != 1 || got[0] != want {
		t.Fatalf("delivered %q\nwant %s", got, want)
	}
}

func TestPIIRedact(t *testing.T) {
	path, sum := artifact(t, "pii-redact", "pii-redact.wasm")
	for _, deny := range []bool{false, true} {
		p, err := wasm.Open(context.Background(), "pii", wasm.Config{Path: path, SHA256: sum, CallTimeout: slow, Config: map[string]any{"deny": deny}}, wasm.WithLogger(log))
		if err != nil {
			t.Fatal(err)
		}
		stage := wasm.NewStage(p, "pii", nil)
		req := request(`{"model":"gpt-4o","messages":[{"role":"user","content":"mail jane.doe@example.com or call +1 415 555 0100, card 4111 1111 1111 1111"}],"temperature":0.2}`, nil)
		resp, err := stage.Handle(context.Background(), req, echo)
		if deny {
			var e *core.Error
			if !errors.As(err, &e) || e.HTTPStatus() != 400 || e.Code != "pii_detected" {
				t.Fatalf("deny: err = %v", err)
			}
		} else {
			if err != nil {
				t.Fatal(err)
			}
			var body struct {
				Messages []struct{ Content string } `json:"messages"`
				Temp     float64                    `json:"temperature"`
			}
			json.Unmarshal(resp.Body, &body)
			if c := body.Messages[0].Content; c != "mail [EMAIL] or call [PHONE], card [CARD]" || body.Temp != 0.2 || req.Metadata["pii_redacted"] != "3" {
				t.Fatalf("content = %q, body = %s, metadata = %v", c, resp.Body, req.Metadata)
			}
		}
		p.Close(context.Background())
	}
}

func TestModelRouter(t *testing.T) {
	path, sum := artifact(t, "model-router", "model-router.wasm")
	p, err := wasm.Open(context.Background(), "router", wasm.Config{Path: path, SHA256: sum, CallTimeout: slow, Config: map[string]any{"routes": []map[string]any{
		{"match": map[string]string{"tier": "free"}, "model": "gpt-4o-mini"},
		{"match": map[string]string{"region": "eu"}, "upstream": "azure-eu"},
	}}}, wasm.WithLogger(log))
	if err != nil {
		t.Fatal(err)
	}
	ups := map[string]*core.Upstream{"azure-eu": core.NewUpstream("azure-eu", "openai", nil, "", "")}
	stage := wasm.NewStage(p, "router", ups)
	defer p.Close(context.Background())
	tests := []struct {
		name      string
		meta      map[string]string
		wantModel string
		wantUp    string
	}{
		{"free tier gets the small model", map[string]string{"tier": "free"}, "gpt-4o-mini", ""},
		{"eu goes to the eu upstream", map[string]string{"region": "eu"}, "gpt-4o", "azure-eu"},
		{"no route", map[string]string{"tier": "pro"}, "gpt-4o", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := request(`{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`, tt.meta)
			resp, err := stage.Handle(context.Background(), req, echo)
			if err != nil {
				t.Fatal(err)
			}
			if req.Model != tt.wantModel || resp.Header.Get("X-Upstream") != tt.wantUp ||
				!strings.Contains(string(resp.Body), `"model":"`+tt.wantModel+`"`) {
				t.Fatalf("model %q upstream %q err %v body %s", req.Model, resp.Header.Get("X-Upstream"), err, resp.Body)
			}
		})
	}
}

func TestAuditLog(t *testing.T) {
	path, sum := artifact(t, "audit-log", "audit-log")
	file := filepath.Join(t.TempDir(), "audit.jsonl")
	p, err := process.Open(context.Background(), "audit", process.Config{Path: path, SHA256: sum, CallTimeout: slow,
		Config: map[string]any{"path": file, "require_customer": true}}, process.WithLogger(log))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	stage := process.NewStage(p, "audit", nil)
	if _, err := stage.Handle(context.Background(), request(`{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`, nil), echo); err != nil {
		t.Fatal(err)
	}
	anon := request(`{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`, nil)
	anon.Customer = ""
	_, err = stage.Handle(context.Background(), anon, echo)
	var e *core.Error
	if !errors.As(err, &e) || e.Code != "customer_required" || e.HTTPStatus() != 403 {
		t.Fatalf("anonymous call: %v", err)
	}
	b, _ := os.ReadFile(file)
	if !strings.Contains(string(b), `"id":"req-42","customer":"acme","model":"gpt-4o","prompt_sha256":"`) || strings.Count(string(b), "\n") != 1 {
		t.Fatalf("audit file:\n%s", b)
	}
}
