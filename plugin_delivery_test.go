package tollgate_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/core"
)

// A vendor's WASM tracking plugin delivers through the durable outbox: its
// payloads survive the vendor's endpoint failing and arrive once it
// recovers, in the vendor's own schema, with no retry code in the plugin.
func TestWasmTrackingPluginDeliversThroughTheOutbox(t *testing.T) {
	const module = "examples/plugins/vendor-tracker/vendor-tracker.wasm"
	b, err := os.ReadFile(module)
	if err != nil {
		t.Skipf("%s is missing: run `make plugins` (make test does)", module)
	}
	sum := sha256.Sum256(b)

	var mu sync.Mutex
	posts := 0
	got := map[string]map[string]any{}
	vendor := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		posts++
		if posts <= 2 { // the vendor is down at first
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		var ev map[string]any
		if err := json.Unmarshal(body, &ev); err != nil {
			t.Errorf("vendor got %q: %v", body, err)
		}
		got[ev["event_id"].(string)] = ev
	}))
	defer vendor.Close()
	endpoint := vendor.URL + "/v1/events"

	g := newGateway(t, `
pipeline:
  - {name: call, kind: builtin}
  - name: track
    kind: builtin
    config:
      sinks:
        - type: wasm
          name: vendor
          path: `+module+`
          sha256: "`+hex.EncodeToString(sum[:])+`"
          deliver_to: ["`+endpoint+`"]
          retry: {initial: 10ms, max: 50ms}
          config: {endpoint: "`+endpoint+`", account: acct_123}
`)
	ids := map[string]bool{}
	for range 3 {
		req := httptest.NewRequest(http.MethodPost, "/v1/chat/completions",
			strings.NewReader(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"bill me"}]}`))
		req = req.WithContext(core.WithCustomer(context.Background(), "acme"))
		rec := httptest.NewRecorder()
		g.eng.Handler().ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		ids[rec.Header().Get("X-Tollgate-Id")] = true
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		n := len(got)
		mu.Unlock()
		if n == 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the vendor has %d of 3 events after 20s", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	for id, ev := range got {
		if !ids[id] || ev["account"] != "acct_123" || ev["customer"] != "acme" || ev["product"] != "openai/gpt-4o-mini" {
			t.Errorf("vendor event %s: %v", id, ev)
		}
	}
	if posts < 5 {
		t.Errorf("%d posts; want the 2 refused ones retried (at least 5)", posts)
	}
}
