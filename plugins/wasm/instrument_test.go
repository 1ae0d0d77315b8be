package wasm

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/internal/logbuf"
)

// TestYieldOfWrongType checks that a sched_yield import of another type is
// not used for deadline checks, and that inspect says so.
func TestYieldOfWrongType(t *testing.T) {
	path := fixture(t, "bad/yield-type.wasm")
	if _, _, err := instrument(mustRead(t, path)); err == nil || !strings.Contains(err.Error(), "sched_yield with a type other than () -> (i32)") {
		t.Fatalf("instrument: %v", err)
	}
	rep, err := Inspect(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	if rep.DeadlineChecks || rep.Problem == nil || !strings.Contains(rep.Problem.Error(), "sched_yield") {
		t.Fatalf("deadline checks %v, problem %v", rep.DeadlineChecks, rep.Problem)
	}
}

// TestNotWasmLogsOnlyItsError checks that a file that is not a module gets
// its compile error and no warning about deadline checks first.
func TestNotWasmLogsOnlyItsError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "notwasm.wasm")
	if err := os.WriteFile(path, []byte("hello, I am not a module\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	logs := &logbuf.Buffer{}
	_, err := Open(context.Background(), "x", Config{Path: path, SHA256: sum(t, path)}, WithLogger(slog.New(slog.NewTextHandler(logs, nil))))
	if err == nil || !strings.Contains(err.Error(), "the module does not compile") {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(logs.String(), "deadline checks") {
		t.Fatalf("log:\n%s", logs)
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
