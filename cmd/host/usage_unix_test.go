//go:build unix

package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/tollgate-dev/tollgate/tracking"
)

// A gateway whose admin_listen is port 0 holds the database at a port the
// command cannot know: it says how to give it, rather than dialling port 0.
func TestUsageCommandAsksForTheAdminPortTheKernelPicked(t *testing.T) {
	dir := t.TempDir()
	db, err := tracking.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	// Held as a running gateway holds it: bbolt's flock, on a descriptor
	// of this test's own (a second descriptor is refused the lock).
	f, err := os.Open(filepath.Join(dir, "usage.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	code := run([]string{"usage", "status", "--data-dir", dir, "--admin-listen", "127.0.0.1:0"}, &stdout, &stderr)
	want := `its admin_listen is 127.0.0.1:0, a port the kernel picked: pass the address its serving line printed ("admin":"http://HOST:PORT") as --admin-listen HOST:PORT`
	if code != 1 || !strings.Contains(stderr.String(), want) {
		t.Fatalf("exit %d, stderr %q; want 1 and %q", code, stderr.String(), want)
	}
}
