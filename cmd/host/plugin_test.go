package main

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

func TestPluginInspect(t *testing.T) {
	tests := []struct {
		name     string
		file     string
		wantCode int
		wantOut  []string
		wantErr  string
	}{
		{"a valid plugin", "../../plugins/wasm/testdata/conformance-wat.wasm", 0,
			[]string{"abi:       v1", "hooks:     request, response, stream_event, usage", "tollgate.deliver", "needs:     deliver_to, emit_to in its config", "valid:     yes"}, ""},
		{"a plugin for another ABI", "../../plugins/wasm/testdata/bad/abi-v2.wasm", 1,
			[]string{"abi:       v2 (this tollgate serves v1)", "valid:     no"}, "is not a valid tollgate plugin: the module speaks tollgate plugin ABI v2, and this tollgate serves ABI v1 only"},
		{"not a plugin", "../../plugins/wasm/testdata/bad/no-marker.wasm", 1,
			[]string{"abi:       none"}, "it exports no tollgate_abi_v1 marker function"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := os.Stat(tt.file); err != nil {
				t.Skipf("%s is missing: run `make plugins`", tt.file)
			}
			var out, errb bytes.Buffer
			code := run([]string{"plugin", "inspect", tt.file}, &out, &errb)
			if code != tt.wantCode || !strings.Contains(errb.String(), tt.wantErr) {
				t.Fatalf("exit %d, stderr %q", code, errb.String())
			}
			for _, w := range tt.wantOut {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
		})
	}
	var out, errb bytes.Buffer
	if code := run([]string{"plugin", "inspect", "nope.wasm"}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "no such file") {
		t.Fatalf("missing file: exit %d, %q", code, errb.String())
	}
}
