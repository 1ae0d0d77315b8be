package testbin

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestGatewayBinWins(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "tollgate")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GATEWAY_BIN", bin)
	got, err := Tollgate("./no-such-package", t.TempDir())
	if err != nil || got != bin {
		t.Fatalf("Tollgate = %q, %v; want %q from GATEWAY_BIN, nothing built", got, err, bin)
	}
}

func TestGatewayBinMustBeAnExecutableFile(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain")
	if err := os.WriteFile(plain, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ bin, want string }{
		{filepath.Join(dir, "missing"), "no such file"},
		{dir, "not an executable file"},
		{plain, "not an executable file"},
	} {
		t.Setenv("GATEWAY_BIN", tt.bin)
		if _, err := Tollgate(".", dir); err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "GATEWAY_BIN") {
			t.Errorf("GATEWAY_BIN=%s: error %v, want one naming GATEWAY_BIN and saying %q", tt.bin, err, tt.want)
		}
	}
}

func TestBuildErrorNamesThePackage(t *testing.T) {
	t.Setenv("GATEWAY_BIN", "")
	_, err := Tollgate("./no-such-package", t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "building ./no-such-package") {
		t.Fatalf("error %v, want one naming the package it failed to build", err)
	}
}
