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
	var seen []uint64 // the newest transaction id on disk at each sync
	b := openWatchingSyncs(t, path, func(*os.File) { seen = append(seen, newestMetaTxid(t, path)) })
	if len(seen) != 1 {
		t.Fatalf("creating the file synced %d times, want 1 (its first pages)", len(seen))
	}
	// The first commit also grows the file (TestGrowingTheFileSyncsThroughTheHook).
	if err := b.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucket([]byte("b"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	seen = nil
	before := newestMetaTxid(t, path)
	for i := range 3 {
		if err := b.Update(func(tx *bolt.Tx) error {
			return tx.Bucket([]byte("b")).Put([]byte{byte(i)}, make([]byte, 100))
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

// openWatchingSyncs opens the usage file at path with boltOptions, calling
// watch before each sync goes through their hook; closed at the test's end.
func openWatchingSyncs(t *testing.T, path string, watch func(*os.File)) *bolt.DB {
	t.Helper()
	opts := boltOptions(time.Second)
	if opts.Fdatasync == nil {
		t.Fatal("boltOptions sets no Fdatasync: the usage file's syncs would hold a processor")
	}
	sync := opts.Fdatasync
	opts.Fdatasync = func(f *os.File) error {
		watch(f)
		return sync(f)
	}
	b, err := bolt.Open(path, 0o600, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
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

// When a commit needs a larger file, bbolt truncates it larger and syncs
// the new size before writing the pages; that sync goes through the hook
// too, so no sync of the usage file holds a processor.
func TestGrowingTheFileSyncsThroughTheHook(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	var sizes []int64 // the file's size at each sync
	b := openWatchingSyncs(t, path, func(f *os.File) {
		st, err := f.Stat()
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, st.Size())
	})
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	before := st.Size()
	sizes = nil
	if err := b.Update(func(tx *bolt.Tx) error {
		bk, err := tx.CreateBucketIfNotExists([]byte("b"))
		if err != nil {
			return err
		}
		return bk.Put([]byte("k"), make([]byte, 1<<20))
	}); err != nil {
		t.Fatal(err)
	}
	if len(sizes) != 3 {
		t.Fatalf("a commit that grew the file from %d bytes synced %d times through the hook (sizes %v), want 3: the new size, the data pages, the meta page", before, len(sizes), sizes)
	}
	if sizes[0] <= before+1<<20 {
		t.Fatalf("the first sync saw %d bytes, want the grown size (more than %d + 1 MiB)", sizes[0], before)
	}
}
