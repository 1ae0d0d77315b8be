package datasync

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

func TestFdatasyncKeepsWhatWasWritten(t *testing.T) {
	f := tempFile(t)
	var want []byte
	for i := range 20 {
		line := bytes.Repeat([]byte{'a' + byte(i)}, 4096)
		if _, err := f.Write(line); err != nil {
			t.Fatal(err)
		}
		want = append(want, line...)
		if err := Fdatasync(f); err != nil {
			t.Fatalf("sync %d: %v", i, err)
		}
	}
	got, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("read back %d bytes, wrote %d", len(got), len(want))
	}
}

func TestFdatasyncNamesTheFileItFailedOn(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "closed"))
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	err = Fdatasync(f)
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("closed")) {
		t.Fatalf("Fdatasync on a closed file: %v, want an error naming the file", err)
	}
}

// A pipe cannot be synced: the kernel's error comes back through whichever
// path is in use, with the file's name.
func TestFdatasyncReturnsTheKernelsError(t *testing.T) {
	rd, wr, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	defer wr.Close()
	err = Fdatasync(wr)
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte(wr.Name())) {
		t.Fatalf("Fdatasync on a pipe: %v, want the kernel's error naming %s", err, wr.Name())
	}
	if berr := blocking(wr); berr == nil || berr.Error() != err.Error() {
		t.Fatalf("the system call says %v, the ring %v: they should agree", berr, err)
	}
}

// tempFile creates a file in a directory the test removes, closed at the
// test's end.
func tempFile(tb testing.TB) *os.File {
	tb.Helper()
	f, err := os.Create(filepath.Join(tb.TempDir(), "f"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { f.Close() })
	return f
}
