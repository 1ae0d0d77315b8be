package main

import (
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/providers/providertest"
)

// limitsConfig has virtual keys on and a ratelimit stage with no limits of
// its own: it enforces the keys' limits only.
const limitsConfig = `
listen: {{LISTEN}}
admin_listen: {{ADMIN}}
data_dir: {{DIR}}
log: {level: info, format: json}
auth: {virtual_keys: true, refresh_interval: 50ms}
reload: {debounce: 50ms}
providers:
  openai: {base_url: {{UP}}/v1, api_key_env: E2E_OPENAI_KEY}
pipeline:
  - {name: validate, kind: builtin}
  - {name: ratelimit, kind: builtin, config: {budget_refresh: 10ms}}
  - {name: call, kind: builtin}
  - {name: track, kind: builtin, config: {sinks: [{type: jsonl, path: {{DIR}}/usage.jsonl}]}}
`

// createKey runs `tollgate keys create` and returns the key and stderr.
func (o *opsHost) createKey(t *testing.T, args ...string) (string, string) {
	t.Helper()
	out, stderr, err := o.tollgate(t, append([]string{"keys", "create"}, args...)...)
	if err != nil {
		t.Fatalf("keys create %v: %v\n%s", args, err, stderr)
	}
	return strings.TrimSpace(out), stderr
}

func TestVirtualKeyLimitsAreEnforced(t *testing.T) {
	up := providertest.NewServer(t)
	h := startOps(t, up.URL, limitsConfig, "E2E_OPENAI_KEY="+plantedKey)
	url := h.url + "/v1/chat/completions"

	// --rpm 2: the third call in the minute is refused, in OpenAI's shape,
	// naming the key.
	rpmKey, stderr := h.createKey(t, "--customer", "acme", "--rpm", "2")
	if strings.Contains(stderr, "warning") {
		t.Errorf("keys create warned with a ratelimit stage in the pipeline: %s", stderr)
	}
	opsWait(t, 10*time.Second, "the new key to work", func() bool {
		code, _ := opsCall(t, url, chat, "Authorization", "Bearer "+rpmKey)
		return code == 200 // 401 until the gateway has read the key: not counted
	})
	if code, body := opsCall(t, url, chat, "Authorization", "Bearer "+rpmKey); code != 200 {
		t.Fatalf("second call: %d %s", code, body)
	}
	code, body := opsCall(t, url, chat, "Authorization", "Bearer "+rpmKey)
	if code != 429 || !strings.Contains(body, `"code":"rate_limit_exceeded"`) || !strings.Contains(body, "2 requests per 1m0s") ||
		!strings.Contains(body, "API key key_") {
		t.Errorf("third call with --rpm 2: %d %s", code, body)
	}

	// --monthly-budget: once the ledger has counted a call that cost more
	// than the budget, the key's calls are refused with 402.
	budgetKey, _ := h.createKey(t, "--customer", "globex", "--monthly-budget", "0.000001")
	opsWait(t, 10*time.Second, "the budget key to work", func() bool {
		code, _ := opsCall(t, url, chat, "Authorization", "Bearer "+budgetKey)
		return code == 200
	})
	opsWait(t, 10*time.Second, "the spent budget to refuse calls", func() bool {
		code, body = opsCall(t, url, chat, "Authorization", "Bearer "+budgetKey)
		return code != 200
	})
	if code != 402 || !strings.Contains(body, `"code":"budget_exceeded"`) || !strings.Contains(body, `customer \"globex\" has spent $`) {
		t.Errorf("call over the monthly budget: %d %s", code, body)
	}

	// A pipeline without a ratelimit stage enforces nothing: the reload
	// that drops it, and keys create against such a config, say so.
	noLimiter := strings.Replace(limitsConfig, "  - {name: ratelimit, kind: builtin, config: {budget_refresh: 10ms}}\n", "", 1)
	h.write(t, noLimiter)
	opsWait(t, 10*time.Second, "the reload to warn that key limits are not enforced", func() bool {
		return strings.Contains(h.stderr.String(), "NOTHING ENFORCES")
	})
	code, body = opsCall(t, h.admin+"/admin/keys", `{"customer":"initech","limits":{"requests_per_minute":5}}`)
	if code != 201 || !strings.Contains(body, `"warning":"virtual keys' limits`) {
		t.Errorf("POST /admin/keys with limits against a pipeline without ratelimit: %d %s", code, body)
	}
	_, stderr = h.createKey(t, "--customer", "initech", "--tpm", "1000")
	if !strings.Contains(stderr, "warning: virtual keys' limits") || !strings.Contains(stderr, "{name: ratelimit, kind: builtin}") {
		t.Errorf("keys create --tpm against a pipeline without ratelimit: %s", stderr)
	}
	// A key spec the API cannot read is refused, saying what and where.
	for body, want := range map[string]string{
		``:                                   `the body is empty: want a key spec, a JSON object`,
		`[1]`:                                `want a key spec, a JSON object; got an array`,
		`{"customer":"initech"} {}`:          `the body is not valid JSON: invalid character '{' after top-level value, at byte 24`,
		`{"customer":"initech","customr":1}`: `a key spec: unknown key \"customr\" (known: customer, limits, metadata, models, name, team, ttl)`,
		`{"customer":"initech","limits":{"rpm":5}}`:                 `a key spec: limits: unknown key \"rpm\" (known: monthly_budget, requests_per_minute, tokens_per_minute)`,
		`{"customer":"initech","models":"gpt-4o"}`:                  `a key spec: models: want a list of strings, got \"gpt-4o\"`,
		`{"customer":"initech","limits":{"monthly_budget":"lots"}}`: `a key spec: limits.monthly_budget: not a dollar amount: \"lots\"`,
		`{"customer":"initech","ttl":"a month"}`:                    `ttl: want a duration like \"720h\", got \"a month\"`,
		strings.Repeat(" ", 64<<10) + `{}`:                          `the body is over 65536 bytes`,
		// A value inside a list or an object is named by its place.
		`{"customer":"initech","metadata":{"x":"ok","y":[1]}}`:                      `a key spec: metadata.y: want a string, got [1]`,
		`{"customer":"initech","metadata":{"x":null}}`:                              `a key spec: metadata.x: want a string, got null`,
		`{"customer":"initech","models":["a",5]}`:                                   `a key spec: models[1]: want a string, got 5`,
		`{"customer":"initech","limits":{"monthly_budget":1e400}}`:                  `a key spec: limits.monthly_budget: not a dollar amount: \"1e400\"`,
		`{"customer":"initech","limits":{"tokens_per_minute":9223372036854775808}}`: `a key spec: limits.tokens_per_minute: want a whole number, got 9223372036854775808`,
		`{"customer":"initech","limits":{"requests_per_minute":-1}}`:                `limits.requests_per_minute (--rpm): must not be negative, got -1`,
		`{"customer":"initech","ttl":"-1h"}`:                                        `ttl: must be positive (or 0 for a key that never expires), got -1h0m0s`,
	} {
		code, body = opsCall(t, h.admin+"/admin/keys", body)
		if code != 400 || !strings.Contains(body, want) {
			t.Errorf("POST /admin/keys with a bad spec: %d %s, want 400 and %s", code, body, want)
		}
	}
	// A negative ttl would make a key that never expires.
	cmd := exec.Command(binary, "keys", "create", "--customer", "acme", "--ttl", "-1h", "--config", h.path)
	out, err := cmd.CombinedOutput()
	if code := cmd.ProcessState.ExitCode(); code != 2 || !strings.Contains(string(out), "ttl: must be positive (or 0 for a key that never expires), got -1h0m0s") {
		t.Errorf("keys create --ttl -1h: exit %d (%v) %s, want 2", code, err, out)
	}
	// A budget needs the customer whose spend it caps.
	cmd = exec.Command(binary, "keys", "create", "--team", "ml", "--monthly-budget", "5", "--config", h.path)
	out, err = cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "set --customer with --monthly-budget") {
		t.Errorf("a team key with a budget: %v %s", err, out)
	}
}
