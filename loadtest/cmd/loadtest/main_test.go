package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRunUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no command", nil, 2, "usage:"},
		{"unknown", []string{"fly"}, 2, `unknown command "fly"`},
		{"bad concurrency", []string{"run", "--concurrency", "1,x"}, 2, "--concurrency"},
		{"duplicate config", []string{"run", "--configs", "a=,a=x.yaml"}, 2, "distinct names"},
		{"env of no config", []string{"run", "--configs", "a=", "--env", "b:X=1"}, 2, `no config named "b"`},
		{"env without a value", []string{"run", "--configs", "a=", "--env", "a:X"}, 2, "want NAME:KEY=VALUE"},
		{"env without a name", []string{"run", "--configs", "a=", "--env", "X=1"}, 2, "want NAME:KEY=VALUE"},
		{"binary of no config", []string{"run", "--configs", "a=", "--binary", "b:/bin/true"}, 2, `no config named "b"`},
		{"binary without a path", []string{"run", "--configs", "a=", "--binary", "a:"}, 2, "want NAME:PATH"},
		{"binary that is not there", []string{"run", "--configs", "a=", "--binary", "a:/nonexistent/tollgate"}, 2, "no such file"},
		{"binary that is a directory", []string{"run", "--configs", "a=", "--binary", "a:/tmp"}, 2, "is not an executable file"},
		{"binary twice", []string{"run", "--configs", "a=", "--binary", "a:/bin/true", "--binary", "a:/bin/true"}, 2, "already has the binary"},
		{"bench-check without input", []string{"bench-check"}, 2, "--current is required"},
		{"report without results", []string{"report", "--results", "/nonexistent-dir"}, 1, "no result files"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := run(tt.args, &out, &errb); code != tt.code || !strings.Contains(out.String()+errb.String(), tt.want) {
				t.Fatalf("code %d, output %q %q", code, out.String(), errb.String())
			}
		})
	}
}

func TestBenchCheckCommand(t *testing.T) {
	dir := t.TempDir()
	base := filepath.Join(dir, "base.txt")
	now := filepath.Join(dir, "now.txt")
	os.WriteFile(base, []byte("pkg: p\nBenchmarkA-2 100 1000 ns/op 10 B/op 1 allocs/op\n"), 0o644)
	os.WriteFile(now, []byte("pkg: p\nBenchmarkA-2 100 2000 ns/op 10 B/op 1 allocs/op\n"), 0o644)
	var out, errb bytes.Buffer
	if code := run([]string{"bench-check", "--baseline", base, "--current", now}, &out, &errb); code != 1 || !strings.Contains(out.String(), "SLOWER") {
		t.Fatalf("code %d:\n%s%s", code, out.String(), errb.String())
	}
	out.Reset()
	if code := run([]string{"bench-check", "--baseline", base, "--current", now, "--update"}, &out, &errb); code != 0 {
		t.Fatalf("update: code %d: %s", code, errb.String())
	}
	out.Reset()
	if code := run([]string{"bench-check", "--baseline", base, "--current", now}, &out, &errb); code != 0 {
		t.Fatalf("after update: code %d:\n%s", code, out.String())
	}
}
