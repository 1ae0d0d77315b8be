package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzLoad loads arbitrary bytes as a config file. Load must never panic;
// what it accepts must be valid; what it refuses is an *Error listing
// problems, and no message shows the value of a secret variable. The seed
// corpus is in testdata/fuzz/FuzzLoad.
func FuzzLoad(f *testing.F) {
	f.Add([]byte("listen: 127.0.0.1:9000\n"))
	f.Add(Default())
	f.Add([]byte("providers:\n  openai: {base_url: https://x.test/v1, api_key_env: FUZZ_API_KEY}\npipeline:\n  - {name: a, kind: builtin, timeout: 2s}\n"))
	f.Add([]byte("lisen: x\nserver: {max_body_bytes: -1}\npipeline: [{name: 1}]\n"))
	f.Add([]byte("a: &x [*x]\n"))
	f.Add([]byte("\t- :\n"))
	f.Add([]byte("---\n# header\n---\nlisten: :1\n---\nlog: {level: debug}\n"))
	const secret = "sk-fuzz-secret-value-9f8e7d6c5b4a"
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(dir, "config.yaml")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := Load(Options{Path: path, Environ: []string{"FUZZ_API_KEY=" + secret}})
		if err != nil {
			if strings.Contains(err.Error(), secret) {
				t.Fatalf("an error shows the secret: %v", err)
			}
			return
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("Load accepted a config that Validate refuses: %v", err)
		}
	})
}
