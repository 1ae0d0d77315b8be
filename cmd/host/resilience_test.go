package main

import (
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/internal/redistest"
	"github.com/tollgate-dev/tollgate/providers/providertest"
)

// startHostWith runs the binary with body (providers, pipeline, redis…)
// after the listen, admin, data_dir and log keys; {usage} in body becomes
// the host's jsonl usage file.
func startHostWith(t *testing.T, body string) *host {
	t.Helper()
	dir := t.TempDir()
	h := &host{usage: filepath.Join(dir, "usage.jsonl")}
	h.start(t, []string{"E2E_OPENAI_KEY=" + plantedKey}, func(listen, admin string) string {
		return writeConfig(t, dir, fmt.Sprintf("listen: %s\nadmin_listen: %s\ndata_dir: %s\nlog: {level: debug, format: json}\n%s",
			listen, admin, dir, strings.ReplaceAll(body, "{usage}", h.usage)))
	})
	return h
}

// post sends a chat call to the host; header holds name, value pairs.
func (h *host) post(t *testing.T, body string, header ...string) (int, http.Header, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, h.url+"/v1/chat/completions", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer sk-client")
	req.Header.Set("X-Tollgate-Customer", "acme")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

const e2eChat = `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello through the host"}]}`

func providers(urls ...string) string {
	s := "providers:\n"
	for i, u := range urls {
		name := "openai"
		if i > 0 {
			name = fmt.Sprintf("backup%d", i)
		}
		s += fmt.Sprintf("  %s: {type: openai, base_url: %s/v1, api_key_env: E2E_OPENAI_KEY}\n", name, u)
	}
	return s
}

const e2eTrack = "  - {name: track, kind: builtin, config: {sinks: [{type: jsonl, path: \"{usage}\"}]}}\n"

// resilientPipeline is the recommended order of the stages.
const resilientPipeline = "pipeline:\n" +
	"  - {name: validate, kind: builtin}\n" +
	"  - {name: ratelimit, kind: builtin, config: {requests_per_minute: 600, tokens_per_minute: 200000}}\n" +
	"  - {name: cache, kind: builtin, config: {ttl: 5m}}\n" +
	"  - {name: fallback, kind: builtin, config: {targets: [backup1]}}\n" +
	"  - {name: retry, kind: builtin, config: {max_attempts: 3, initial_interval: 5ms, max_interval: 20ms}}\n" +
	"  - {name: breaker, kind: builtin, config: {consecutive_failures: 3, open_for: 1h}}\n" +
	"  - {name: call, kind: builtin}\n" + e2eTrack

func TestHostRetriesThroughFaults(t *testing.T) {
	up := providertest.NewServer(t)
	h := startHostWith(t, providers(up.URL, up.URL)+resilientPipeline)
	up.Inject(providertest.Fault{Status: 429, RetryAfter: 20 * time.Millisecond})
	if code, _, body := h.post(t, e2eChat); code != 200 || !strings.Contains(body, providertest.DefaultReply) {
		t.Fatalf("429 then ok: %d %s", code, body)
	}
	up.Inject(providertest.Fault{Status: 529, Times: 2})
	code, hdr, body := h.post(t, `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"overloaded"}]}`)
	if code != 200 || hdr.Get("X-Tollgate-Cache") != "miss" {
		t.Fatalf("529 twice then ok: %d %v %s", code, hdr, body)
	}
	if code, hdr, _ := h.post(t, e2eChat); code != 200 || hdr.Get("X-Tollgate-Cache") != "hit" {
		t.Fatalf("repeat: %d %v", code, hdr)
	}
	h.stop(t)
	evs := h.events(t)
	if len(evs) != 3 || evs[0].RetryCount != 1 || evs[1].RetryCount != 2 || !evs[2].CacheHit || evs[2].Saved == nil {
		t.Fatalf("events: %+v", evs)
	}
	if len(up.Requests()) != 5 {
		t.Errorf("upstream calls %d, want 5 (2 + 3, the hit none)", len(up.Requests()))
	}
	if !strings.Contains(h.stderr.String(), "retrying upstream call") {
		t.Error("retries are not in the logs")
	}
}

func TestHostBreakerOpensAndFallbackAnswers(t *testing.T) {
	dying := providertest.NewServer(t)
	dying.Inject(providertest.Fault{Status: 500, Times: -1})
	backup := providertest.NewServer(t, providertest.WithReply("the backup answers"))
	h := startHostWith(t, providers(dying.URL, backup.URL)+resilientPipeline)
	for i := range 4 {
		body := fmt.Sprintf(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"call %d"}]}`, i)
		if code, _, got := h.post(t, body); code != 200 || !strings.Contains(got, "the backup answers") {
			t.Fatalf("call %d: %d %s", i, code, got)
		}
	}
	if n := len(dying.Requests()); n != 3 {
		t.Errorf("the dying upstream got %d calls, want 3 (then its breaker opened)", n)
	}
	h.stop(t)
	for i, ev := range h.events(t) {
		if ev.Upstream != "backup1" || ev.Status != core.StatusOK {
			t.Errorf("event %d answered by %q (%s), want backup1", i, ev.Upstream, ev.Status)
		}
	}
	if !strings.Contains(h.stderr.String(), "circuit breaker opened") {
		t.Error("the breaker opening is not in the logs")
	}
}

func TestHostsShareRedis(t *testing.T) {
	srv := redistest.Start(t)
	up := providertest.NewServer(t)
	cfg := "redis: {addr: " + srv.Addr + ", timeout: 2s, down_for: 100ms}\n" + providers(up.URL) + "pipeline:\n" +
		"  - {name: ratelimit, kind: builtin, config: {requests_per_minute: 3}}\n" +
		"  - {name: cache, kind: builtin, config: {ttl: 1m}}\n" +
		"  - {name: call, kind: builtin}\n" + e2eTrack
	a, b := startHostWith(t, cfg), startHostWith(t, cfg)

	if _, hdr, _ := a.post(t, e2eChat); hdr.Get("X-Tollgate-Cache") != "miss" {
		t.Errorf("a: %v", hdr)
	}
	if _, hdr, _ := b.post(t, e2eChat); hdr.Get("X-Tollgate-Cache") != "hit" {
		t.Errorf("b did not hit a's answer: %v", hdr)
	}
	a.post(t, e2eChat)
	code, hdr, body := b.post(t, e2eChat)
	if code != 429 || hdr.Get("Retry-After") == "" || hdr.Get("X-Ratelimit-Limit-Requests") != "3" {
		t.Errorf("the fourth call across both hosts: %d %v %s", code, hdr, body)
	}

	// Redis dies mid-run: the stages fail open, loudly.
	srv.Stop()
	if code, _, body := a.post(t, `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"redis is gone"}]}`); code != 200 {
		t.Errorf("with redis down: %d %s", code, body)
	}
	if !strings.Contains(a.stderr.String(), "REDIS UNAVAILABLE") {
		t.Error("no loud warning in the logs")
	}
}
