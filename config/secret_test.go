package config

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// TestSecretsNeverInErrors plants a key wherever a user might put one by
// mistake and checks that no error message contains it.
func TestSecretsNeverInErrors(t *testing.T) {
	const secret = "sk-planted-Zq8v7X2mN4pL9rT1"
	const gemini = "AIzaSyPlanted0123456789abcdefGHIJ" // in no environment variable
	const short = "hunter2-hunter2"                    // not shaped like a key
	tests := []struct {
		name     string
		yaml     string
		dotenv   string
		environ  []string
		redacted bool // the message shows [REDACTED] where the secret was
	}{
		{name: "secret as a value", yaml: "listen: " + secret + "\n", environ: []string{"OPENAI_API_KEY=" + secret}},
		{name: "secret as a value, from dotenv", yaml: "data_dir: 7\nlog: {level: " + secret + "}\n", dotenv: "OPENAI_API_KEY=" + secret + "\n"},
		{name: "secret in api_key_env", yaml: "providers:\n  openai:\n    base_url: https://x.test\n    api_key_env: " + secret + "\n"},
		{name: "secret under an unknown key", yaml: "providers:\n  openai:\n    base_url: https://x.test\n    api_key: " + secret + "\n"},
		{name: "secret as a key", yaml: secret + ": 1\n", environ: []string{"MY_TOKEN=" + secret}},
		{name: "secret in base_url credentials", yaml: "providers:\n  openai:\n    base_url: https://me:" + secret + "@api.openai.com\n"},
		{name: "secret in base_url that does not parse", yaml: "providers:\n  openai:\n    base_url: \"ht tp://me:" + secret + "@x\"\n"},
		{name: "secret in an unknown override", environ: []string{"TOLLGATE_PROVIDERS__OPENAI__API_KEY=" + secret}},
		{name: "secret in a bad override", environ: []string{"TOLLGATE_LISTEN=" + secret, "GEMINI_API_KEY=" + secret}},
		{name: "secret in a bad override from dotenv", yaml: "{}\n", dotenv: "TOLLGATE_LOG__FORMAT=" + secret + "\nCUSTOM_SECRET=" + secret + "\n"},
		{name: "secret named by a custom api_key_env", yaml: "listen: " + secret + "\nproviders:\n  x:\n    type: openai\n    base_url: https://x.test\n    api_key_env: PROVIDER_X\n", environ: []string{"PROVIDER_X=" + secret}},
		{name: "secret named by admin.token_env", yaml: "log: {level: " + short + "}\nadmin: {token_env: OPS_BEARER}\n", environ: []string{"OPS_BEARER=" + short}, redacted: true},
		{name: "secret named by alerts.webhook_url_env", yaml: "log: {level: " + short + "}\nalerts: {webhook_url_env: ONCALL_HOOK}\n", environ: []string{"ONCALL_HOOK=" + short}, redacted: true},
		{name: "secret named by redis.password_env", yaml: "log: {level: " + short + "}\nredis: {password_env: CACHE_PASS}\n", environ: []string{"CACHE_PASS=" + short}, redacted: true},
		{name: "short secret as a value", yaml: "listen: hunter2-hunter2\n", environ: []string{"DB_PASSWORD=hunter2-hunter2"}, redacted: true},
		{name: "short secret named by api_key_env", yaml: "listen: x-hunter2-hunter2-x\nproviders:\n  x:\n    type: openai\n    base_url: https://x.test\n    api_key_env: PROVIDER_X\n", environ: []string{"PROVIDER_X=hunter2-hunter2"}, redacted: true},
		{name: "key-shaped value in no variable", yaml: "log: {level: " + gemini + "}\ncustomer: {header: \"" + gemini + " \"}\n"},
		{name: "key-shaped value in a duration", yaml: "server: {idle_timeout: " + gemini + "}\n"},
		{name: "dotenv that does not parse", yaml: "{}\n", dotenv: "OPENAI_API_KEY " + secret + " oops=\"\n"},
		{name: "yaml that does not parse", yaml: "providers: {openai: " + secret + ": x}\n", environ: []string{"OPENAI_API_KEY=" + secret}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := Options{Environ: tt.environ}
			if opts.Environ == nil {
				opts.Environ = []string{}
			}
			if tt.yaml != "" {
				opts.Path = writeConfig(t, tt.yaml)
				if tt.dotenv != "" {
					writeDotenv(t, opts.Path, tt.dotenv)
				}
			}
			_, err := Load(opts)
			if err == nil {
				t.Fatal("Load succeeded, want an error")
			}
			msg := err.Error()
			for _, s := range []string{secret, gemini, short, secret[:16], gemini[:16]} {
				if strings.Contains(msg, s) {
					t.Errorf("error contains the planted secret %q:\n%s", s, msg)
				}
			}
			if tt.redacted && !strings.Contains(msg, "[REDACTED]") {
				t.Errorf("error does not say [REDACTED]:\n%s", msg)
			}
		})
	}
}

// TestSecretsNeverInConfig checks that printing or marshalling a loaded
// Config shows no secret, though Lookup can read it.
func TestSecretsNeverInConfig(t *testing.T) {
	const secret = "sk-planted-Zq8v7X2mN4pL9rT1"
	path := writeConfig(t, "listen: :8080\n")
	writeDotenv(t, path, "ANTHROPIC_API_KEY="+secret+"\n")
	c := mustLoad(t, Options{Path: path, Environ: []string{"OPENAI_API_KEY=" + secret}})
	if key, _, _ := c.APIKey("openai"); key != secret {
		t.Fatalf("APIKey(openai) = %q, want the planted secret", key)
	}
	j, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{fmt.Sprintf("%v", c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), fmt.Sprintf("%+v", *c), string(j)} {
		if strings.Contains(out, secret) {
			t.Errorf("printed config contains the secret: %s", out)
		}
	}
}
