package tracking

import (
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// The usage file's fdatasyncs go through the hook of the patched bbolt
// (third_party/bbolt), two per commit and in bbolt's order: when the first
// returns, the data pages are durable and the meta page still names the
// previous transaction; the second makes the new meta page durable.
func TestCommitsSyncThroughTheHookDataThenMeta(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	opts := boltOptions(time.Second)
	if opts.Fdatasync == nil {
		t.Fatal("boltOptions sets no Fdatasync: the usage file's syncs would hold a processor")
	}
	var seen []uint64 // the newest transaction id on disk at each sync
	sync := opts.Fdatasync
	opts.Fdatasync = func(f *os.File) error {
		seen = append(seen, newestMetaTxid(t, path))
		return sync(f)
	}
	b, err := bolt.Open(path, 0o600, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if len(seen) != 1 {
		t.Fatalf("creating the file synced %d times, want 1 (its first pages)", len(seen))
	}
	seen = nil
	before := newestMetaTxid(t, path)
	for i := range 3 {
		if err := b.Update(func(tx *bolt.Tx) error {
			bk, err := tx.CreateBucketIfNotExists([]byte("b"))
			if err != nil {
				return err
			}
			return bk.Put([]byte{byte(i)}, make([]byte, 100))
		}); err != nil {
			t.Fatal(err)
		}
	}
	want := []uint64{before, before + 1, before + 1, before + 2, before + 2, before + 3}
	if len(seen) != len(want) {
		t.Fatalf("three commits synced %d times (%v), want two each", len(seen), seen)
	}
	for i := range want {
		if seen[i] != want[i] {
			t.Fatalf("newest transaction on disk at each sync: %v, want %v (data pages synced before the meta page names them)", seen, want)
		}
	}
}

// newestMetaTxid reads the two meta pages of a bbolt file and returns the
// larger transaction id (page header 16 bytes, then magic, version, page
// size, flags, root bucket 16, freelist 8, high water mark 8, txid 8).
func newestMetaTxid(t *testing.T, path string) uint64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var newest uint64
	pageSize := int64(os.Getpagesize())
	for page := range int64(2) {
		var buf [8]byte
		if _, err := f.ReadAt(buf[:], page*pageSize+64); err != nil {
			t.Fatal(err)
		}
		newest = max(newest, binary.LittleEndian.Uint64(buf[:]))
	}
	return newest
}
