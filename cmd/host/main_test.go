package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/tollgate-dev/tollgate/config"
	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/internal/logbuf"
	"github.com/tollgate-dev/tollgate/internal/testbin"
	"github.com/tollgate-dev/tollgate/providers/providertest"
)

// binary is the tollgate binary of the end-to-end tests: make's
// (GATEWAY_BIN), or built once here.
var binary string

// refuseSyscall, followed by a system call's name, in a gateway's
// environment starts it under a seccomp filter that refuses that call with
// EPERM: the test binary, run with it, installs the filter and then execs
// the gateway (TestMain).
const refuseSyscall = "E2E_REFUSE_SYSCALL="

// The two refusals the tests use: io_uring_setup, as Docker's and
// containerd's default profiles refuse it, and io_uring_enter, a ring the
// kernel sets up but will not run.
const (
	refuseIOURing      = refuseSyscall + "io_uring_setup"
	refuseIOURingEnter = refuseSyscall + "io_uring_enter"
)

func TestMain(m *testing.M) {
	if name, ok := refused(os.Environ()); ok { // launch's wrapper
		fmt.Fprintln(os.Stderr, execRefusing(name, os.Args[1:]))
		os.Exit(2)
	}
	dir, err := os.MkdirTemp("", "tollgate-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary, err = testbin.Tollgate(".", dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// refused returns the system call env asks launch to refuse, if any.
func refused(env []string) (syscall string, ok bool) {
	for _, kv := range env {
		if name, ok := strings.CutPrefix(kv, refuseSyscall); ok {
			return name, true
		}
	}
	return "", false
}

// plantedKey is the provider key; no log line may show it.
const plantedKey = "sk-e2e-planted-secret-8c1d"

// freeAddrs returns two distinct loopback addresses, for listen and
// admin_listen, that were free a moment ago. Both listeners stay open until
// both are picked: closed one by one, the kernel once handed the same port
// out twice, and tollgate rightly refused a config whose admin_listen
// equalled its listen.
func freeAddrs(t *testing.T) (listen, admin string) {
	t.Helper()
	var lns [2]net.Listener
	for i := range lns {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		lns[i] = ln
	}
	return lns[0].Addr().String(), lns[1].Addr().String()
}

// host is a running `tollgate serve`.
type host struct {
	cmd    *exec.Cmd
	url    string
	admin  string
	usage  string
	stderr *logbuf.Buffer
	done   chan error
}

// startHost runs the binary with a config over upstreamURL.
func startHost(t *testing.T, upstreamURL string, env ...string) *host {
	t.Helper()
	dir := t.TempDir()
	h := &host{usage: filepath.Join(dir, "usage.jsonl")}
	h.start(t, env, func(listen, admin string) string {
		return writeConfig(t, dir, fmt.Sprintf(`
listen: %s
admin_listen: %s
data_dir: %s
log: {level: debug, format: json}
providers:
  openai: {base_url: %[4]s/v1, api_key_env: E2E_OPENAI_KEY}
  anthropic: {base_url: %[4]s, api_key_env: E2E_ANTHROPIC_KEY}
  gemini: {base_url: %[4]s, api_key_env: E2E_GEMINI_KEY}
  azure-eu:
    type: azure
    base_url: %[4]s
    api_key_env: E2E_AZURE_KEY
    api_version: "2024-10-21"
    deployments: {gpt-4o-mini: mini-prod}
  local: {type: openai, base_url: %[4]s/v1, models: ["llama-*"]}
pipeline:
  - {name: validate, kind: builtin}
  - {name: call, kind: builtin}
  - {name: track, kind: builtin, config: {sinks: [{type: jsonl, path: %[5]s}]}}
`, listen, admin, dir, upstreamURL, h.usage))
	})
	return h
}

// writeConfig writes cfg as dir/tollgate.yaml and returns its path.
func writeConfig(t *testing.T, dir, cfg string) string {
	t.Helper()
	path := filepath.Join(dir, "tollgate.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// start launches tollgate on the config write makes for two free
// addresses (listen, admin_listen), and on two others when a port was
// taken between its pick and tollgate's bind: another test's connection
// can take it in that moment.
func (h *host) start(t *testing.T, env []string, write func(listen, admin string) (path string)) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		listen, admin := freeAddrs(t)
		h.url, h.admin = "http://"+listen, "http://"+admin
		if h.launch(t, write(listen, admin), env, attempt < 3) {
			return
		}
		t.Logf("a port was taken before tollgate bound it; trying two others:\n%s", h.stderr)
	}
}

// launch runs `tollgate serve` on the config at path, with env added to the
// test's environment, and waits until h.admin answers /healthz and the
// serving line is in h.stderr (tests read what it says). The process
// is killed when the test ends. Whoever takes the exit from h.done puts it
// back, so the cleanup, stop and a test's own wait can each take it. When
// tollgate exits because its address is in use and retry is set, launch
// returns false; any other failure fails the test.
func (h *host) launch(t *testing.T, path string, env []string, retry bool) bool {
	t.Helper()
	h.stderr, h.done = &logbuf.Buffer{}, make(chan error, 1)
	name, args := binary, []string{"serve", "--config", path}
	if _, ok := refused(env); ok {
		name, args = os.Args[0], append([]string{binary}, args...)
	}
	h.cmd = exec.Command(name, args...)
	h.cmd.Env = append(os.Environ(), env...)
	h.cmd.Stderr = h.stderr
	if err := h.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	cmd, done := h.cmd, h.done // this attempt's: start may launch again
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { cmd.Process.Kill(); done <- <-done })
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(h.admin + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK { // not another server on a taken port
				// The line is logged before the first answer, but its
				// bytes reach h.stderr through exec's copy of a pipe.
				for wait := time.Now().Add(5 * time.Second); !strings.Contains(h.stderr.String(), "tollgate is serving"); {
					if time.Now().After(wait) {
						t.Fatalf("/healthz answers, and no serving line was logged:\n%s", h.stderr)
					}
					time.Sleep(5 * time.Millisecond)
				}
				return true
			}
		}
		select {
		case err := <-h.done:
			h.done <- err
			if retry && strings.Contains(h.stderr.String(), "address already in use") {
				return false
			}
			t.Fatalf("tollgate exited: %v\n%s", err, h.stderr)
		case <-time.After(20 * time.Millisecond):
		}
	}
	t.Fatalf("tollgate did not become healthy:\n%s", h.stderr)
	return false
}

// stop sends SIGTERM and waits for a graceful exit.
func (h *host) stop(t *testing.T) {
	t.Helper()
	h.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-h.done:
		h.done <- err
		if err != nil {
			t.Fatalf("tollgate exited with %v:\n%s", err, h.stderr)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("tollgate did not stop after SIGTERM")
	}
}

// events reads the usage events the host wrote.
func (h *host) events(t *testing.T) []core.UsageEvent {
	t.Helper()
	f, err := os.Open(h.usage)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []core.UsageEvent
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var ev core.UsageEvent
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatal(err)
		}
		out = append(out, ev)
	}
	// The sink's order is the order calls completed: a streamed call the SDK
	// has returned from (at [DONE]) can complete after the next call. The
	// tests make their calls one after another, so they read them in the
	// order they were received.
	slices.SortStableFunc(out, func(a, b core.UsageEvent) int { return a.Timestamp.Compare(b.Timestamp) })
	return out
}

func TestServeWithTheOpenAISDK(t *testing.T) {
	up := providertest.NewServer(t, providertest.WithCachedTokens(2))
	h := startHost(t, up.URL, "E2E_OPENAI_KEY="+plantedKey)
	client := openai.NewClient(option.WithBaseURL(h.url+"/v1"), option.WithAPIKey("sk-client"), option.WithMaxRetries(0),
		option.WithHeader("X-Tollgate-Customer", "acme"))
	params := openai.ChatCompletionNewParams{Model: "gpt-4o-mini",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Hello from the end to end test")}}

	got, err := client.Chat.Completions.New(context.Background(), params)
	if err != nil {
		t.Fatal(err)
	}
	if got.Choices[0].Message.Content != providertest.DefaultReply {
		t.Errorf("reply %q", got.Choices[0].Message.Content)
	}
	stream := client.Chat.Completions.NewStreaming(context.Background(), params)
	var acc openai.ChatCompletionAccumulator
	for stream.Next() {
		acc.AddChunk(stream.Current())
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if acc.Choices[0].Message.Content != providertest.DefaultReply {
		t.Errorf("streamed reply %q", acc.Choices[0].Message.Content)
	}
	h.stop(t) // graceful shutdown flushes the usage events

	reqs := up.Requests()
	evs := h.events(t)
	if len(evs) != 2 || len(reqs) != 2 {
		t.Fatalf("want 2 events and 2 upstream calls, got %d and %d", len(evs), len(reqs))
	}
	for i, ev := range evs {
		want, _ := up.ExpectedUsage(reqs[i].Body)
		if ev.InputTokens != int64(want.PromptTokens) || ev.OutputTokens != int64(want.CompletionTokens) ||
			ev.CachedInputTokens != int64(want.CachedTokens) || ev.TotalTokens != int64(want.TotalTokens) {
			t.Errorf("event %d usage %+v, want %+v", i, ev, want)
		}
		if ev.CustomerID != "acme" || ev.Status != core.StatusOK || ev.Stream != (i == 1) {
			t.Errorf("event %d = %+v", i, ev)
		}
	}
	if got := reqs[0].Header.Get("Authorization"); got != "Bearer "+plantedKey {
		t.Errorf("upstream auth %q", got)
	}
}

// TestOversizedAttributionIsRefusedAndTrackingGoesOn: a customer header
// longer than a customer id may be, or a metadata header longer than a
// tag's value may be, gets a 400 that names the header, and the usage
// events of it and of the calls after it are all delivered. A 40 KB
// customer header once made every later event wait in memory: the usage
// ledger's store refuses keys over 32 KiB.
func TestOversizedAttributionIsRefusedAndTrackingGoesOn(t *testing.T) {
	up := providertest.NewServer(t)
	h := startHost(t, up.URL, "E2E_OPENAI_KEY="+plantedKey)
	const chat = `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`
	code, _, body := post(t, h, strings.Repeat("c", 40000), chat)
	if want := "the X-Tollgate-Customer header is 40000 bytes long; a customer id is at most 256"; code != 400 || !strings.Contains(body, want) {
		t.Fatalf("answered %d %s; want 400 saying %q", code, body, want)
	}
	// a tag of 600 KB (under the 1 MiB header cap) on each call would fill the sinks' shared backlog
	code, _, body = post(t, h, "acme", chat, "X-Tollgate-Meta-Note", strings.Repeat("n", 600000))
	if want := "the X-Tollgate-Meta-Note header is 600000 bytes long; a metadata value is at most 512"; code != 400 || !strings.Contains(body, want) || !strings.Contains(body, "invalid_metadata") {
		t.Fatalf("answered %d %.300s; want 400 invalid_metadata saying %q", code, body, want)
	}
	if code, _, body := post(t, h, "acme", chat, "X-Tollgate-Meta-Note", "ok"); code != 200 {
		t.Fatalf("the next call answered %d %s", code, body)
	}
	h.stop(t)
	evs := h.events(t)
	if len(evs) != 3 || evs[0].CustomerID != "" || evs[0].Status != core.StatusInvalid ||
		evs[1].Status != core.StatusInvalid || len(evs[1].Metadata) != 0 ||
		evs[2].CustomerID != "acme" || evs[2].Status != core.StatusOK || evs[2].Metadata["note"] != "ok" {
		t.Fatalf("events %+v; want the two refusals' (no customer, no tags) and acme's", evs)
	}
}

func TestLogsNeverShowKeys(t *testing.T) {
	up := providertest.NewServer(t)
	h := startHost(t, up.URL, "E2E_OPENAI_KEY="+plantedKey)
	for _, fault := range []string{"", "status=401", "status=500", "drop"} {
		req, _ := http.NewRequest(http.MethodPost, h.url+"/v1/chat/completions",
			strings.NewReader(`{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`))
		req.Header.Set("Authorization", "Bearer sk-client-secret-should-vanish")
		if fault != "" {
			req.Header.Set(providertest.FaultHeader, fault)
		}
		if resp, err := http.DefaultClient.Do(req); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	h.stop(t)
	logs := h.stderr.String()
	if !strings.Contains(logs, "tollgate is serving") {
		t.Fatalf("no logs captured:\n%s", logs)
	}
	for _, secret := range []string{plantedKey, "sk-client-secret-should-vanish"} {
		if strings.Contains(logs, secret) {
			t.Errorf("the logs show %q:\n%s", secret, logs)
		}
	}
	for _, line := range strings.Split(strings.TrimSpace(logs), "\n") {
		if !json.Valid([]byte(line)) {
			t.Errorf("log line is not JSON: %s", line)
		}
	}
}

func TestServeWithoutKeyStartsAndNamesTheVariable(t *testing.T) {
	up := providertest.NewServer(t)
	h := startHost(t, up.URL) // E2E_OPENAI_KEY unset
	resp, err := http.Post(h.url+"/v1/chat/completions", "application/json",
		strings.NewReader(`{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 500 || !strings.Contains(string(body), "E2E_OPENAI_KEY") {
		t.Errorf("got %d %s, want an error naming E2E_OPENAI_KEY", resp.StatusCode, body)
	}
	if !strings.Contains(h.stderr.String(), "E2E_OPENAI_KEY") {
		t.Errorf("start-up warning does not name the variable:\n%s", h.stderr)
	}
	if len(up.Requests()) != 0 {
		t.Error("a call without a key reached upstream")
	}
}

func TestReadyz(t *testing.T) {
	up := providertest.NewServer(t)
	h := startHost(t, up.URL, "E2E_OPENAI_KEY="+plantedKey)
	resp, err := http.Get(h.admin + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		Status string            `json:"status"`
		Checks map[string]string `json:"checks"`
	}
	json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if resp.StatusCode != 200 || body.Status != "ready" {
		t.Errorf("readyz = %d %+v", resp.StatusCode, body)
	}
}

func TestValidateCommand(t *testing.T) {
	dir := t.TempDir()
	write := func(name, yaml string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(yaml), 0o600)
		return p
	}
	good := write("good.yaml", `
providers:
  openai: {base_url: http://127.0.0.1:1/v1, api_key_env: NONE_SET}
pipeline:
  - {name: validate, kind: builtin}
  - {name: call, kind: builtin}
`)
	bad := write("bad.yaml", `
lisen: 127.0.0.1:8080
providers:
  openai: {base_url: http://127.0.0.1:1/v1, api_key_env: NONE_SET}
pipeline:
  - {name: validate, kind: builtin, config: {max_body_bytes: lots}}
  - {name: guard, kind: martian}
  - {name: call, kind: builtin, on_error: maybe}
`)
	stages := write("stages.yaml", `providers:
  openai: {base_url: http://127.0.0.1:1/v1, api_key_env: NONE_SET}
pipeline:
  - name: cache
    kind: builtin
    config: {tll: 5m}
  - {name: call, kind: builtin}
  - name: track
    kind: builtin
    config:
      sinks:
        - {type: jsonl, path: u.jsonl, batch: {max_event: 3}}
`)
	os.WriteFile(filepath.Join(dir, "keys.json"), []byte(`{"keys": [1,2`), 0o600)
	keysOn := func(name, file string) string {
		return write(name, fmt.Sprintf(`data_dir: %s
auth: {virtual_keys: true, keys_file: %q}
providers:
  openai: {base_url: http://127.0.0.1:1/v1, api_key_env: NONE_SET}
pipeline:
  - {name: call, kind: builtin}
`, filepath.Join(dir, "data"), file))
	}
	tests := []commandCase{
		{"virtual keys, a keys file that does not read", []string{"validate", "--config", keysOn("badkeys.yaml", filepath.Join(dir, "keys.json"))}, 1,
			[]string{"auth.keys_file " + filepath.Join(dir, "keys.json") + ": not valid JSON: unexpected end of JSON input, at byte 13"}},
		{"virtual keys, none yet", []string{"validate", "--config", keysOn("nokeys.yaml", "")}, 0,
			[]string{"virtual keys are on but none exist yet", "with the 2 warnings above"}},
		{"valid config, a warning", []string{"validate", "--config", good}, 0, []string{"the configuration is valid (2 stages, 1 provider), with the warning above",
			"WRN no API key for provider; calls to it will fail until you set the variable", "variable=NONE_SET"}},
		{"a stage's keys, with lines", []string{"validate", "--config", stages}, 1, []string{
			stages + `:6: pipeline[0] (cache): config: unknown key "tll" (known: backend, front_ttl, ignore_fields, max_bytes, max_entry_bytes, scope, ttl)`,
			stages + `:12: pipeline[2] (track): config: sinks[0]: batch: unknown key "max_event" (known: max_age, max_events)`}},
		{"every problem listed", []string{"validate", "--config", bad}, 1, []string{"lisen: unknown key", `did you mean "listen"`, "pipeline[2].on_error"}},
		{"missing file", []string{"validate", "--config", filepath.Join(dir, "nope.yaml")}, 1, []string{"nope.yaml"}},
		{"unknown command", []string{"serv"}, 2, []string{`unknown command "serv"`}},
	}
	runCommands(t, tests)
}

// TestValidateChecksTheTracingVariables: serve would not start with an
// OTEL_* variable it cannot use, so validate says so.
func TestValidateChecksTheTracingVariables(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318")
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("pipeline:\n  - {name: call, kind: builtin, config: {timout: 5s}}\n"), 0o600)
	runCommands(t, []commandCase{{"an endpoint without a scheme, and a stage's problem", []string{"validate", "--config", bad}, 1,
		[]string{`tracing: OTEL_EXPORTER_OTLP_ENDPOINT="collector:4318" is not a URL like http://collector:4318`,
			bad + `:2: pipeline[0] (call): config: unknown key "timout"`}}})
}

func TestValidateWarnsOfAnOpenAdminListener(t *testing.T) {
	for _, v := range []string{"TOLLGATE_ADMIN_TOKEN", "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY"} {
		t.Setenv(v, "") // the default's three providers warn too: four in all
	}
	runCommands(t, []commandCase{{"admin on all interfaces, no token", []string{"validate", "--admin-listen", "0.0.0.0:9091"}, 0,
		[]string{"the admin listener is not on loopback and no admin token is set", "variable=TOLLGATE_ADMIN_TOKEN", "with the 4 warnings above"}}})
}

// commandCase is a command line, the exit code it ends with and text its
// output (stdout and stderr) holds.
type commandCase struct {
	name     string
	args     []string
	wantCode int
	wantOut  []string
}

// runCommands runs each case in process.
func runCommands(t *testing.T, tests []commandCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(tt.args, &out, &errOut)
			all := out.String() + errOut.String()
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d:\n%s", code, tt.wantCode, all)
			}
			for _, w := range tt.wantOut {
				if !strings.Contains(all, w) {
					t.Errorf("output lacks %q:\n%s", w, all)
				}
			}
		})
	}
}

func TestConfigCommand(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "tollgate.yaml")
	os.WriteFile(path, []byte("listen: 127.0.0.1:9000\nlisen: 127.0.0.1:9001\n"), 0o600)
	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(good, []byte("listen: 127.0.0.1:9000\n"), 0o600)
	tests := []commandCase{
		{"the default", []string{"config", "default"}, 0, []string{string(config.Default())}},
		{"what serve runs with", []string{"config", "show", "--config", good, "--data-dir", dir}, 0,
			[]string{"listen: 127.0.0.1:9000 # " + good + ":1\n", "data_dir: " + dir + " # --data-dir\n", "admin_listen: 127.0.0.1:8081\n"}},
		{"a config with problems", []string{"config", "show", "--config", path}, 1, []string{path + `:2: lisen: unknown key (did you mean "listen"?)`}},
		{"no subcommand", []string{"config"}, 2, []string{"tollgate config default"}},
		{"an unknown subcommand", []string{"config", "shw"}, 2, []string{`tollgate config: unknown arguments "shw"`}},
		{"default takes nothing", []string{"config", "default", "x"}, 2, []string{`unknown arguments "default x"`}},
	}
	runCommands(t, tests)
}

// TestCommandLines: --help lists a command's flags on stdout and exits 0; a flag the
// command does not know is named, with where to look, and exits 2; neither
// is reported as a configuration problem.
func TestCommandLines(t *testing.T) {
	for _, cmd := range [][]string{{"serve"}, {"validate"}, {"config", "show"}, {"keys", "create"}, {"usage", "report"}, {"mock"}, {"policy", "test"}} {
		name := strings.Join(cmd, " ")
		t.Run(name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := run(append(slices.Clone(cmd), "--help"), &out, &errOut)
			if code != 0 || !strings.Contains(out.String(), "--") || errOut.Len() != 0 {
				t.Errorf("%s --help: exit %d, stdout %q, stderr %q; want 0 and the flags on stdout", name, code, out.String(), errOut.String())
			}
			if loads := cmd[0] != "mock" && cmd[0] != "policy"; loads && !strings.Contains(out.String(), "written with dots:\n  --server.idle-timeout 60s") {
				t.Errorf("%s --help does not say the other keys are flags too:\n%s", name, out.String())
			}
			out.Reset()
			errOut.Reset()
			code = run(append(slices.Clone(cmd), "--no-such-flag"), &out, &errOut)
			all := out.String() + errOut.String()
			want := "tollgate " + name + ": unknown flag: --no-such-flag (tollgate " + name + " --help lists the flags)"
			if code != 2 || !strings.Contains(all, want) || strings.Contains(all, "configuration has problems") {
				t.Errorf("%s --no-such-flag: exit %d, want 2 and %q:\n%s", name, code, want, all)
			}
		})
	}
}

// TestCommandGroupsHelp: a command of subcommands asked for help prints
// its usage on stdout and exits 0; given none, on stderr and exits 2.
func TestCommandGroupsHelp(t *testing.T) {
	for _, cmd := range []string{"keys", "usage", "plugin", "policy"} {
		t.Run(cmd, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if code := run([]string{cmd, "--help"}, &out, &errOut); code != 0 || !strings.Contains(out.String(), "Usage") || errOut.Len() != 0 {
				t.Errorf("%s --help: exit %d, stdout %q, stderr %q; want 0 and the usage on stdout", cmd, code, out.String(), errOut.String())
			}
			out.Reset()
			errOut.Reset()
			if code := run([]string{cmd}, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "Usage") || out.Len() != 0 {
				t.Errorf("%s: exit %d, stdout %q, stderr %q; want 2 and the usage on stderr", cmd, code, out.String(), errOut.String())
			}
		})
	}
}

func TestValidateReportsPipelineProblems(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "c.yaml")
	os.WriteFile(p, []byte(`
providers:
  openai: {base_url: http://127.0.0.1:1/v1}
pipeline:
  - {name: validate, kind: builtin, config: {max_body_bytes: -1}}
  - {name: guard, kind: martian}
  - {name: call, kind: builtin}
`), 0o600)
	var out, errOut bytes.Buffer
	if code := run([]string{"validate", "--config", p}, &out, &errOut); code != 1 {
		t.Fatalf("exit %d: %s%s", code, out.String(), errOut.String())
	}
	for _, w := range []string{"pipeline[0] (validate): config: max_body_bytes: must be positive", `pipeline[1] (guard): unknown kind "martian"`} {
		if !strings.Contains(errOut.String(), w) {
			t.Errorf("output lacks %q:\n%s", w, errOut.String())
		}
	}
}

// validate finds every problem of the track stage's config that serve
// would refuse at start, or take silently for its default: it said valid
// to a jsonl rotate_bytes of -1 and an on_full of "banana", which serve
// then refused, and to a negative outbox bound, which serve ignored.
func TestValidateReportsTrackConfigProblems(t *testing.T) {
	for _, tc := range []struct{ track, want string }{
		{`{sinks: [{type: jsonl, path: u.jsonl, rotate_bytes: -1}]}`, "config: sinks[0]: rotate_bytes and keep_files: must not be negative"},
		{`{sinks: [{type: jsonl, path: u.jsonl, keep_files: -2}]}`, "config: sinks[0]: rotate_bytes and keep_files: must not be negative"},
		{`{outbox: {on_full: banana}, sinks: [{type: jsonl, path: u.jsonl}]}`, `config: outbox.on_full: want drop or unready, got "banana"`},
		{`{outbox: {max_backlog_bytes: -1}, sinks: [{type: jsonl, path: u.jsonl}]}`, "config: outbox.max_backlog_bytes: must not be negative, got -1"},
		{`{outbox: {max_memory_events: -5}, sinks: [{type: jsonl, path: u.jsonl}]}`, "config: outbox.max_memory_events: must not be negative, got -5"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			p := writeConfig(t, t.TempDir(), fmt.Sprintf(`
providers:
  openai: {base_url: http://127.0.0.1:1/v1}
pipeline:
  - {name: call, kind: builtin}
  - {name: track, kind: builtin, config: %s}
`, tc.track))
			var out, errOut bytes.Buffer
			if code := run([]string{"validate", "--config", p}, &out, &errOut); code != 1 ||
				!strings.Contains(errOut.String(), "tollgate.yaml:6: pipeline[1] (track): "+tc.want) {
				t.Errorf("exit %d, want 1 with %q:\n%s%s", code, tc.want, out.String(), errOut.String())
			}
		})
	}
}

func TestMockCommand(t *testing.T) {
	addr, _ := freeAddrs(t)
	cmd := exec.Command(binary, "mock", "--listen", addr)
	var out logbuf.Buffer
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() }()
	var resp *http.Response
	var err error
	for range 200 {
		resp, err = http.Post("http://"+addr+"/v1/chat/completions", "application/json",
			strings.NewReader(`{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`))
		if err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), providertest.DefaultReply) {
		t.Errorf("mock answered %d %s", resp.StatusCode, body)
	}
}

func TestVersion(t *testing.T) {
	var out bytes.Buffer
	if code := run([]string{"version"}, &out, io.Discard); code != 0 || !strings.HasPrefix(out.String(), "tollgate ") {
		t.Errorf("version: %d %q", code, out.String())
	}
}

// TestLaunchSaysWhenTheAddressIsTaken: launch reports a port taken before
// tollgate bound it, so that start can try two others.
func TestLaunchSaysWhenTheAddressIsTaken(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	dir := t.TempDir()
	_, admin := freeAddrs(t)
	h := &host{url: "http://" + taken.Addr().String(), admin: "http://" + admin}
	path := writeConfig(t, dir, fmt.Sprintf("listen: %s\nadmin_listen: %s\ndata_dir: %s\n", taken.Addr(), admin, dir))
	if h.launch(t, path, nil, true) {
		t.Fatalf("launch reported a start on a taken address:\n%s", h.stderr)
	}
	if !strings.Contains(h.stderr.String(), "address already in use") {
		t.Fatalf("tollgate's stderr does not say why:\n%s", h.stderr)
	}
}

// A file named without --config was ignored: `tollgate validate
// broken.yaml` checked the embedded default and said valid.
func TestCommandsRefuseStrayArguments(t *testing.T) {
	const hint = `unexpected argument "broken.yaml"; a config file goes after --config: tollgate %s --config broken.yaml`
	runCommands(t, []commandCase{
		{"validate", []string{"validate", "broken.yaml"}, 2, []string{fmt.Sprintf(hint, "validate")}},
		{"serve", []string{"serve", "broken.yaml"}, 2, []string{fmt.Sprintf(hint, "serve")}},
		{"config show", []string{"config", "show", "--data-dir", t.TempDir(), "broken.yaml"}, 2, []string{fmt.Sprintf(hint, "config show")}},
		{"mock", []string{"mock", "extra"}, 2, []string{`tollgate mock: unexpected argument "extra"` + "\n"}},
	})
}
