package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/providers/providertest"
)

// opsHost is a running gateway with a config the test writes and rewrites.
type opsHost struct {
	*host
	dir, path string
	vars      map[string]string
}

// startOps runs the binary on cfg, a config template: {{LISTEN}},
// {{ADMIN}}, {{DIR}} and {{UP}} (the upstream's URL) are filled in.
func startOps(t *testing.T, upstreamURL, cfg string, env ...string) *opsHost {
	t.Helper()
	dir := t.TempDir()
	o := &opsHost{host: &host{usage: filepath.Join(dir, "usage.jsonl")}, dir: dir, path: filepath.Join(dir, "tollgate.yaml")}
	o.start(t, env, func(listen, admin string) string {
		o.vars = map[string]string{"{{LISTEN}}": listen, "{{ADMIN}}": admin, "{{DIR}}": dir, "{{UP}}": upstreamURL}
		o.write(t, cfg)
		return o.path
	})
	return o
}

// write writes the config (atomically, as an editor or Kubernetes would).
func (o *opsHost) write(t *testing.T, cfg string) {
	t.Helper()
	for k, v := range o.vars {
		cfg = strings.ReplaceAll(cfg, k, v)
	}
	tmp := o.path + ".tmp"
	if err := os.WriteFile(tmp, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, o.path); err != nil {
		t.Fatal(err)
	}
}

// tollgate runs a command of the binary against the host's config.
func (o *opsHost) tollgate(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	cmd := exec.Command(binary, append(args, "--config", o.path)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	return out.String(), errb.String(), err
}

// opsWait polls cond until it holds, failing the test after limit.
func opsWait(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// opsCall posts a body and returns the status and answer.
func opsCall(t *testing.T, url, body string, header ...string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, string(b)
}

// scrape reads /metrics.
func scrape(t *testing.T, admin string) string {
	t.Helper()
	resp, err := http.Get(admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

const opsConfig = `
listen: {{LISTEN}}
admin_listen: {{ADMIN}}
data_dir: {{DIR}}
log: {level: info, format: json}
providers:
  openai: {base_url: {{UP}}/v1, api_key_env: E2E_OPENAI_KEY}
  anthropic: {base_url: {{UP}}, api_key_env: E2E_ANTHROPIC_KEY}
pipeline:
  - {name: validate, kind: builtin}
  - {name: call, kind: builtin}
  - {name: track, kind: builtin, config: {sinks: [{type: jsonl, path: {{DIR}}/usage.jsonl}]}}
`

const chat = `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hello from the metrics test"}]}`

func TestMetricsCountKnownTraffic(t *testing.T) {
	up := providertest.NewServer(t)
	h := startOps(t, up.URL, opsConfig, "E2E_OPENAI_KEY="+plantedKey)
	for range 3 {
		if code, body := opsCall(t, h.url+"/v1/chat/completions", chat); code != 200 {
			t.Fatalf("%d %s", code, body)
		}
	}
	stream := `{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"stream please"}]}`
	if code, _ := opsCall(t, h.url+"/v1/chat/completions", stream); code != 200 {
		t.Fatalf("stream %d", code)
	}
	if code, _ := opsCall(t, h.url+"/v1/chat/completions", chat, providertest.FaultHeader, "status=503"); code != 503 {
		t.Fatalf("fault %d", code)
	}
	if code, _ := opsCall(t, h.url+"/v1/chat/completions", `{"model":`); code != 400 {
		t.Fatalf("invalid %d", code)
	}
	var in, out int
	for _, r := range up.Requests()[:4] {
		u, _ := up.ExpectedUsage(r.Body)
		in += u.PromptTokens
		out += u.CompletionTokens
	}
	text := scrape(t, h.admin)
	for _, want := range []string{
		`tollgate_requests_total{code="200",model="gpt-4o-mini",operation="chat.completions",provider="openai",status="ok",upstream="openai"} 4`,
		`tollgate_requests_total{code="503",model="gpt-4o-mini",operation="chat.completions",provider="openai",status="upstream_error",upstream="openai"} 1`,
		`tollgate_request_duration_seconds_count{model="gpt-4o-mini",operation="chat.completions",provider="openai"} 5`,
		`tollgate_time_to_first_token_seconds_count{model="gpt-4o-mini",provider="openai"} 1`,
		fmt.Sprintf(`tollgate_tokens_total{model="gpt-4o-mini",provider="openai",type="input"} %d`, in),
		fmt.Sprintf(`tollgate_tokens_total{model="gpt-4o-mini",provider="openai",type="output"} %d`, out),
		`tollgate_stage_duration_seconds_count{stage="validate"} 6`,
		`tollgate_stage_duration_seconds_count{stage="call"} 5`,
		`tollgate_upstream_duration_seconds_count{upstream="openai"} 5`,
		`tollgate_cost_usd_total{model="gpt-4o-mini",provider="openai"}`,
		`tollgate_outbox_queued_events{sink=`,
		`tollgate_ledger_rows_set_aside 0`,
		`tollgate_in_flight_requests 0`,
		`tollgate_build_info{`,
		`process_resident_memory_bytes `,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if t.Failed() {
		t.Logf("scrape:\n%s", grepLines(text, "tollgate_"))
	}
}

func grepLines(text, prefix string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

const keysConfig = opsConfig + `
auth: {virtual_keys: true, refresh_interval: 50ms}
`

func TestVirtualKeyLifecycle(t *testing.T) {
	up := providertest.NewServer(t)
	const adminToken = "admin-token-e2e-5f2a9c"
	h := startOps(t, up.URL, keysConfig, "E2E_OPENAI_KEY="+plantedKey, "E2E_ANTHROPIC_KEY=sk-ant-e2e-planted", "TOLLGATE_ADMIN_TOKEN="+adminToken)

	// No key, or a provider key, is refused in the provider's own shape.
	code, body := opsCall(t, h.url+"/v1/chat/completions", chat, "Authorization", "Bearer sk-someone-elses-key")
	if code != 401 || !strings.Contains(body, `"invalid_api_key"`) || !strings.Contains(body, `"error":{`) {
		t.Errorf("OpenAI call without a tollgate key: %d %s", code, body)
	}
	code, body = opsCall(t, h.url+"/v1/messages", `{"model":"claude-3-5-haiku-latest","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`,
		"Anthropic-Version", "2023-06-01")
	if code != 401 || !strings.Contains(body, `"type":"error"`) {
		t.Errorf("Anthropic call without a key: %d %s", code, body)
	}

	key, stderr, err := h.tollgate(t, "keys", "create", "--customer", "acme", "--team", "ml", "--models", "gpt-4o*", "--meta", "env=e2e")
	if err != nil {
		t.Fatalf("keys create: %v\n%s", err, stderr)
	}
	key = strings.TrimSpace(key)
	if !strings.HasPrefix(key, "tg-") {
		t.Fatalf("keys create printed %q", key)
	}
	opsWait(t, 10*time.Second, "the new key to work", func() bool {
		code, _ := opsCall(t, h.url+"/v1/chat/completions", chat, "Authorization", "Bearer "+key)
		return code == 200
	})
	code, body = opsCall(t, h.url+"/v1/chat/completions", `{"model":"gpt-3.5-turbo","messages":[{"role":"user","content":"hi"}]}`,
		"Authorization", "Bearer "+key)
	if code != 403 || !strings.Contains(body, "model_not_allowed") {
		t.Errorf("a model the key may not call: %d %s", code, body)
	}
	// The upstream got the provider key, never the tollgate key.
	for _, r := range up.Requests() {
		if got := r.Header.Get("Authorization"); got != "Bearer "+plantedKey {
			t.Errorf("upstream Authorization %q", got)
		}
	}

	out, _, err := h.tollgate(t, "keys", "list")
	if err != nil || !strings.Contains(out, "acme") || !strings.Contains(out, "active") || strings.Contains(out, key) {
		t.Fatalf("keys list: %v\n%s", err, out)
	}
	id := strings.Fields(strings.Split(out, "\n")[1])[0]

	// The admin API needs the admin token.
	req, _ := http.NewRequest(http.MethodGet, h.admin+"/admin/keys", nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 401 {
		t.Errorf("admin API without the token: %v %v", resp.StatusCode, err)
	} else {
		resp.Body.Close()
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Errorf("admin API with the token: %v %v", resp.StatusCode, err)
	} else {
		resp.Body.Close()
	}

	if _, stderr, err := h.tollgate(t, "keys", "revoke", id); err != nil {
		t.Fatalf("keys revoke: %v\n%s", err, stderr)
	}
	opsWait(t, 10*time.Second, "the revoked key to be refused", func() bool {
		code, _ := opsCall(t, h.url+"/v1/chat/completions", chat, "Authorization", "Bearer "+key)
		return code == 401
	})
	h.stop(t)
	evs := h.events(t)
	var billed int
	for _, ev := range evs {
		if ev.Status == "ok" {
			billed++
			if ev.CustomerID != "acme" || ev.Metadata["team"] != "ml" || ev.Metadata["env"] != "e2e" {
				t.Errorf("event %+v", ev)
			}
		}
	}
	if billed == 0 {
		t.Error("no successful call was tracked")
	}
	// No secret in any log line: not the provider keys, the tollgate key or
	// the admin token.
	logs := h.stderr.String()
	for _, secret := range []string{plantedKey, "sk-ant-e2e-planted", key, key[3:], adminToken, "sk-someone-elses-key"} {
		if strings.Contains(logs, secret) {
			t.Errorf("the logs show a secret (%.6s…)", secret)
		}
	}
	raw, _ := os.ReadFile(filepath.Join(h.dir, "keys.db"))
	if bytes.Contains(raw, []byte(key)) {
		t.Error("keys.db holds the key in clear")
	}
	usage, _ := os.ReadFile(h.usage)
	if bytes.Contains(usage, []byte(key)) || bytes.Contains(usage, []byte(plantedKey)) {
		t.Error("a usage event holds a key")
	}
}

func TestConcurrencyBound(t *testing.T) {
	up := providertest.NewServer(t, providertest.WithChunkDelay(100*time.Millisecond))
	h := startOps(t, up.URL, opsConfig+"server: {max_concurrent_requests: 1}\n", "E2E_OPENAI_KEY="+plantedKey)
	slow := make(chan int, 1)
	go func() {
		code, _ := opsCall(t, h.url+"/v1/chat/completions",
			`{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"a slow stream of several words"}]}`)
		slow <- code
	}()
	opsWait(t, 10*time.Second, "the slow call to be in flight", func() bool {
		return strings.Contains(scrape(t, h.admin), "tollgate_in_flight_requests 1")
	})
	code, body := opsCall(t, h.url+"/v1/chat/completions", chat)
	if code != 503 || !strings.Contains(body, "gateway_overloaded") {
		t.Errorf("over the bound: %d %s", code, body)
	}
	if code := <-slow; code != 200 {
		t.Errorf("the call in flight got %d", code)
	}
	if code, _ := opsCall(t, h.url+"/v1/chat/completions", chat); code != 200 {
		t.Errorf("after the slow call: %d", code)
	}
}

func TestReloadUnderLoad(t *testing.T) {
	up := providertest.NewServer(t, providertest.WithRecordLimit(1))
	h := startOps(t, up.URL, opsConfig, "E2E_OPENAI_KEY="+plantedKey)
	var (
		stop         atomic.Bool
		ok, failed   atomic.Int64
		wg           sync.WaitGroup
		firstFailure atomic.Value
	)
	client := &http.Client{Timeout: 30 * time.Second}
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 5000 && !stop.Load(); i++ {
				body := chat
				if (i+w)%3 == 0 {
					body = `{"model":"gpt-4o-mini","stream":true,"messages":[{"role":"user","content":"streamed across a reload"}]}`
				}
				resp, err := client.Post(h.url+"/v1/chat/completions", "application/json", strings.NewReader(body))
				if err != nil {
					failed.Add(1)
					firstFailure.CompareAndSwap(nil, err.Error())
					continue
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || err != nil {
					failed.Add(1)
					firstFailure.CompareAndSwap(nil, fmt.Sprintf("%d %s %v", resp.StatusCode, b, err))
					continue
				}
				ok.Add(1)
			}
		}()
	}
	reloads := func() string {
		return grepLines(scrape(t, h.admin), "tollgate_config_reloads_total")
	}
	waitN := func(result string, n int) {
		t.Helper()
		want := fmt.Sprintf(`tollgate_config_reloads_total{result="%s"} %d`, result, n)
		opsWait(t, 20*time.Second, want, func() bool { return strings.Contains(reloads(), want) })
	}
	opsWait(t, 10*time.Second, "traffic", func() bool { return ok.Load() > 20 })
	// 1: the file changes (a new stage config).
	h.write(t, strings.Replace(opsConfig, "{name: validate, kind: builtin}", "{name: validate, kind: builtin, config: {max_body_bytes: 1048576}}", 1))
	waitN("success", 1)
	// 2: SIGHUP.
	h.cmd.Process.Signal(syscall.SIGHUP)
	waitN("success", 2)
	// 3: a broken config is rejected and the running one keeps serving.
	h.write(t, opsConfig+"  - {name: guard, kind: martian}\nlisen: oops\n")
	waitN("failure", 1)
	resp, err := http.Get(h.admin + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	var ready struct {
		Status string            `json:"status"`
		Checks map[string]string `json:"checks"`
	}
	json.NewDecoder(resp.Body).Decode(&ready)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(ready.Checks["config"], "rejected") || !strings.Contains(ready.Checks["config"], "lisen") {
		t.Errorf("readyz after a rejected reload: %d %+v", resp.StatusCode, ready)
	}
	// 4: fixed again.
	h.write(t, opsConfig)
	waitN("success", 3)
	before := ok.Load()
	opsWait(t, 10*time.Second, "traffic after the reloads", func() bool { return ok.Load() > before+20 })
	stop.Store(true)
	wg.Wait()
	if n := failed.Load(); n > 0 {
		t.Errorf("%d of %d calls failed across reloads; first: %v", n, n+ok.Load(), firstFailure.Load())
	}
	if !strings.Contains(h.stderr.String(), "lisen") {
		t.Error("the rejected reload's problems are not in the log")
	}
	h.stop(t)
	// Every call that succeeded was tracked, across the pipelines: none
	// lost. Delivery is at least once (sinks deduplicate by id), so a
	// handover may repeat an event; count those.
	evs := h.events(t)
	seen := map[string]bool{}
	for _, ev := range evs {
		seen[ev.ID] = true
	}
	if int64(len(seen)) != ok.Load() {
		t.Errorf("%d distinct usage events for %d calls", len(seen), ok.Load())
	}
	t.Logf("%d calls across 3 reloads and 1 rejected reload, none failed; %d usage events, %d repeated in a handover",
		ok.Load(), len(evs), len(evs)-len(seen))
}
