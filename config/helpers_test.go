package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeConfig writes body as config.yaml in a new temporary directory and
// returns its path.
func writeConfig(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// writeDotenv writes body as .env beside the config file at configPath.
func writeDotenv(t *testing.T, configPath, body string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(filepath.Dir(configPath), ".env"), []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}

// mustLoad loads and fails the test on any error.
func mustLoad(t *testing.T, opts Options) *Config {
	t.Helper()
	if opts.Environ == nil {
		opts.Environ = []string{}
	}
	c, err := Load(opts)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return c
}

// loadProblems loads, expects an *Error and returns its problems with the
// config file's directory cut from their sources, so that a source reads
// "config.yaml:3".
func loadProblems(t *testing.T, opts Options) (*Error, []Problem) {
	t.Helper()
	if opts.Environ == nil {
		opts.Environ = []string{}
	}
	c, err := Load(opts)
	if err == nil {
		t.Fatalf("Load succeeded, want an error; got %+v", c)
	}
	cerr, ok := errors.AsType[*Error](err)
	if !ok {
		t.Fatalf("Load error is %T (%v), want *config.Error", err, err)
	}
	ps := make([]Problem, len(cerr.Problems))
	for i, p := range cerr.Problems {
		if opts.Path != "" {
			p.Source = strings.ReplaceAll(p.Source, filepath.Dir(opts.Path)+string(filepath.Separator), "")
		}
		ps[i] = p
	}
	return cerr, ps
}

// findProblem returns the problem at path, failing the test if there is not
// exactly one.
func findProblem(t *testing.T, ps []Problem, path string) Problem {
	t.Helper()
	var found []Problem
	for _, p := range ps {
		if p.Path == path {
			found = append(found, p)
		}
	}
	if len(found) != 1 {
		t.Fatalf("want one problem at %q, got %d in:\n%s", path, len(found), listProblems(ps))
	}
	return found[0]
}

// listProblems formats problems one per line for failure messages.
func listProblems(ps []Problem) string {
	var b strings.Builder
	for _, p := range ps {
		b.WriteString("\t" + p.String() + "\n")
	}
	return b.String()
}
