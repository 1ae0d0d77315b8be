package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/providers/providertest"
)

// examplePlugin returns the absolute path and sha256 of an example
// WebAssembly plugin built by `make plugins`. Without it the test is
// skipped, except in CI, where `make test` builds it first: there a missing
// module is a failure, not a reason to skip.
func examplePlugin(t *testing.T, name string) (path, sum string) {
	t.Helper()
	path, err := filepath.Abs(filepath.Join("../../examples/plugins", name, name+".wasm"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is missing in CI, where `make test` builds it with `make plugins`: %v", path, err)
		}
		t.Skipf("%s is missing: run `make plugins` (make test does) to build the example plugins", path)
	}
	h := sha256.Sum256(b)
	return path, hex.EncodeToString(h[:])
}

// TestServeWithWasmStages runs the binary with two example WebAssembly
// plugins built with the Go SDK as pipeline stages (kind wasm, pinned by
// sha256): model-router picks the model from the call's metadata, and
// pii-redact rewrites the prompt. The fake provider must receive the
// redacted prompt and the routed model, and the usage event must carry
// the tags both plugins set.
func TestServeWithWasmStages(t *testing.T) {
	redact, redactSum := examplePlugin(t, "pii-redact")
	router, routerSum := examplePlugin(t, "model-router")
	up := providertest.NewServer(t)
	h := startPolicyHost(t, up.URL, fmt.Sprintf(`
  - name: router
    kind: wasm
    config:
      path: %s
      sha256: %s
      config:
        routes:
          - match: {tier: free}
            model: gpt-4o-mini
  - name: pii
    kind: wasm
    on_error: fail_closed
    config:
      path: %s
      sha256: %s
      pool_size: 2
      call_timeout: 2s`, router, routerSum, redact, redactSum))

	prompt := "Mail jane.doe@example.com or call +1 415 555 0100, card 4111 1111 1111 1111."
	req, _ := http.NewRequest(http.MethodPost, h.url+"/v1/chat/completions",
		strings.NewReader(chatBody("gpt-4o", prompt, `"temperature":0.5,`)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer sk-client")
	req.Header.Set("X-Tollgate-Customer", "acme")
	req.Header.Set("X-Tollgate-Meta-Tier", "free")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d\n%s", resp.StatusCode, h.stderr)
	}

	// A call without the tier tag keeps its model.
	if status, _, body := post(t, h, "acme", chatBody("gpt-4o", "nothing personal here", "")); status != http.StatusOK {
		t.Fatalf("second call: status %d: %s", status, body)
	}
	h.stop(t) // graceful shutdown flushes the usage events

	reqs := up.Requests()
	if len(reqs) != 2 {
		t.Fatalf("upstream got %d calls, want 2", len(reqs))
	}
	var sent struct {
		Model       string  `json:"model"`
		Temperature float64 `json:"temperature"`
		Messages    []struct {
			Content string `json:"content"`
		} `json:"messages"`
	}
	if err := json.Unmarshal(reqs[0].Body, &sent); err != nil {
		t.Fatalf("upstream body %s: %v", reqs[0].Body, err)
	}
	if want := "Mail [EMAIL] or call [PHONE], card [CARD]."; sent.Messages[0].Content != want {
		t.Errorf("upstream prompt %q, want %q", sent.Messages[0].Content, want)
	}
	if sent.Model != "gpt-4o-mini" || sent.Temperature != 0.5 {
		t.Errorf("upstream model %q temperature %v, want the routed gpt-4o-mini and the client's 0.5", sent.Model, sent.Temperature)
	}
	for _, secret := range []string{"jane.doe@example.com", "4111"} {
		if strings.Contains(string(reqs[0].Body), secret) {
			t.Errorf("%q reached the provider: %s", secret, reqs[0].Body)
		}
	}
	if strings.Contains(string(reqs[1].Body), "gpt-4o-mini") {
		t.Errorf("the untagged call was routed: %s", reqs[1].Body)
	}

	evs := h.events(t)
	if len(evs) != 2 {
		t.Fatalf("%d usage events, want 2", len(evs))
	}
	if m := evs[0].Metadata; m["pii_redacted"] != "3" || m["routed_by"] != "model-router" || m["tier"] != "free" {
		t.Errorf("first event metadata %v, want pii_redacted 3, routed_by model-router, tier free", m)
	}
	if evs[0].Model != "gpt-4o-mini" {
		t.Errorf("first event model %q, want gpt-4o-mini", evs[0].Model)
	}
	if _, ok := evs[1].Metadata["pii_redacted"]; ok {
		t.Errorf("second event metadata %v: nothing was redacted", evs[1].Metadata)
	}
	// Compiled code is cached under the data directory.
	cache, _ := filepath.Glob(filepath.Join(filepath.Dir(h.usage), "wasm-cache", "*"))
	if len(cache) == 0 {
		t.Errorf("no compilation cache under %s", filepath.Join(filepath.Dir(h.usage), "wasm-cache"))
	}
}
