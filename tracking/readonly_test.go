package tracking_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/tollgate-dev/tollgate/tracking"
)

// A read-only open reads the file without changing a byte of it, shares
// it with other readers, keeps a writer out meanwhile, and refuses writes.
func TestReadOnlyOpenChangesNothing(t *testing.T) {
	dir := t.TempDir()
	db := open(t, dir)
	ob := newOutbox(t, db, tracking.Config{Stage: "track", Ledger: true,
		Sinks: []tracking.SinkConfig{{Name: "down", Sink: (&recorder{fail: true}).sink(), Retry: fastRetry}}})
	enqueue(ob, 10)
	ob.Close(context.Background())
	db.Close()
	path := filepath.Join(dir, tracking.FileName)
	before, _ := os.ReadFile(path)

	ro, err := tracking.Open(dir, tracking.ReadOnly(), tracking.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	other, err := tracking.Open(dir, tracking.ReadOnly(), tracking.WithLogger(quiet), tracking.WithLockTimeout(100*time.Millisecond))
	if err != nil {
		t.Fatalf("a second reader: %v", err)
	}
	other.Close()
	if st := ro.Stats(); len(st.Sinks) != 1 || st.Sinks[0].Queued != 10 {
		t.Errorf("stats %+v", st.Sinks)
	}
	if names, err := ro.SinkNames(); err != nil || strings.Join(names, ",") != "down" {
		t.Errorf("SinkNames() = %q, %v; want [down]", names, err)
	}
	if rep, err := ro.Usage(context.Background(), tracking.Query{}); err != nil || rep.Total.Requests != 10 {
		t.Errorf("usage %+v, %v", rep, err)
	}
	if _, err := ro.Replay(tracking.Selector{}); err == nil {
		t.Error("replay on a read-only open worked")
	}
	if _, err := tracking.Open(dir, tracking.WithLogger(quiet), tracking.WithLockTimeout(100*time.Millisecond)); !errors.Is(err, tracking.ErrLocked) {
		t.Errorf("a writer beside the reader: %v; want ErrLocked", err)
	}
	ro.Close()
	if after, _ := os.ReadFile(path); !bytes.Equal(after, before) {
		t.Error("the read-only open changed the file")
	}
	open(t, dir) // the writer gets it once the reader is gone
}

// A read-only open creates nothing, and refuses a file tollgate never made
// a usage database of; in a process that writes the file, it gets that DB.
func TestReadOnlyOpenCreatesNothing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	if _, err := tracking.Open(dir, tracking.ReadOnly()); err == nil {
		t.Error("a read-only open of no file worked")
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the read-only open created %s (%v)", dir, err)
	}

	os.Mkdir(dir, 0o700)
	b, err := bolt.Open(filepath.Join(dir, tracking.FileName), 0o600, nil) // bbolt's, not tollgate's
	if err != nil {
		t.Fatal(err)
	}
	b.Close()
	_, err = tracking.Open(dir, tracking.ReadOnly())
	if want := "usage.db has no meta bucket: it is not a usage database tollgate has opened (is data_dir right?)"; err == nil || !strings.HasSuffix(err.Error(), want) {
		t.Errorf("read-only open of a bare bbolt file: %v; want %q", err, want)
	}

	rw := open(t, t.TempDir())
	ro, err := tracking.Open(filepath.Dir(rw.Path()), tracking.ReadOnly())
	if err != nil || ro != rw {
		t.Errorf("read-only open beside this process's own: %p, %v; want %p", ro, err, rw)
	}
	ro.Close()
}
