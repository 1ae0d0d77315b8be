package config

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// TestYAML: the configuration in effect, written out, names where each
// value was set, hides secrets, and loads back as the same configuration.
func TestYAML(t *testing.T) {
	path := writeConfig(t, `listen: 127.0.0.1:9000
providers:
  local:
    type: openai
    base_url: http://127.0.0.1:1/v1?key=sk-planted-secret-42
    api_key_env: LOCAL_KEY
pipeline:
  - {name: validate, kind: builtin}
  - name: cache
    kind: builtin
    config: {ttl: 5m, ignore_fields: [user, metadata]}
  - {name: call, kind: builtin, timeout: 30s}
`)
	fs := pflag.NewFlagSet("tollgate", pflag.ContinueOnError)
	RegisterFlags(fs)
	if err := fs.Parse([]string{"--data-dir", "/srv/tollgate"}); err != nil {
		t.Fatal(err)
	}
	environ := []string{"LOCAL_KEY=sk-planted-secret-42", "TOLLGATE_LOG__LEVEL=debug"}
	c := mustLoad(t, Options{Path: path, Flags: fs, Environ: environ})
	b, err := c.YAML()
	if err != nil {
		t.Fatal(err)
	}
	out := string(b)
	for _, want := range []string{
		"listen: 127.0.0.1:9000 # " + path + ":1\n",
		"admin_listen: 127.0.0.1:8081\n", // the default: no comment
		"data_dir: /srv/tollgate # --data-dir\n",
		"  level: debug # $TOLLGATE_LOG__LEVEL\n",
		"    base_url: http://127.0.0.1:1/v1?key=[REDACTED] # " + path + ":5\n",
		"      ttl: 5m # " + path + ":11\n",
		"        - user # " + path + ":11\n",
		"    timeout: 30s # " + path + ":12\n",
		"  idle_timeout: 2m0s\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "sk-planted-secret-42") {
		t.Errorf("the secret is in the output:\n%s", out)
	}

	// Loaded back, it is the same configuration: it writes the same YAML
	// but for the comments.
	again := filepath.Join(t.TempDir(), "again.yaml")
	if err := os.WriteFile(again, b, 0o600); err != nil {
		t.Fatal(err)
	}
	b2, err := mustLoad(t, Options{Path: again}).YAML()
	if err != nil {
		t.Fatal(err)
	}
	comment := regexp.MustCompile(`(?m) # .*$`)
	if got, want := comment.ReplaceAllString(string(b2), ""), comment.ReplaceAllString(out, ""); got != want {
		t.Errorf("loaded back, it writes\n%s\nwant\n%s", got, want)
	}
}

func TestYAMLOfAConfigNotFromLoad(t *testing.T) {
	b, err := (&Config{Listen: "127.0.0.1:1"}).YAML()
	if err != nil || !strings.Contains(string(b), "listen: 127.0.0.1:1\n") {
		t.Errorf("got %v:\n%s", err, b)
	}
}
