package wasm

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestModuleFileRefused checks that a module path that is not a regular
// file, or is too large, is refused before it is read, by Inspect and at
// load.
func TestModuleFileRefused(t *testing.T) {
	big := filepath.Join(t.TempDir(), "big.wasm")
	if err := os.WriteFile(big, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(big, maxModuleSize+1<<20); err != nil { // sparse: no disk used
		t.Fatal(err)
	}
	tests := []struct{ path, want string }{
		{"/dev/zero", "/dev/zero is not a regular file"},
		{t.TempDir(), "is not a regular file (it is a d"},
		{big, "big.wasm is 129 MiB, over the 128 MiB a module may have"},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.path), func(t *testing.T) {
			var err error
			within(t, func() { _, err = Inspect(context.Background(), tt.path) })
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Inspect: %v\nwant an error containing %q", err, tt.want)
			}
			within(t, func() { _, err = build(t, map[string]any{"path": tt.path}, "") })
			if want := "pipeline[0] (plugin): path: "; err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("load: %v\nwant an error containing %q and %q", err, want, tt.want)
			}
		})
	}
}
