package tracking_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/tollgate-dev/tollgate/tracking"
)

// entries lists dir's names, to show that nothing was created or moved.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	des, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	var names []string
	for _, de := range des {
		names = append(names, de.Name())
	}
	return names
}

// Find creates nothing, and says why a data dir holds no database.
func TestFind(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(dir string) // makes dir's contents
		noDB  bool             // errors.Is ErrNoDatabase
		want  string
	}{
		{name: "no data dir", setup: func(dir string) {}, noDB: true, want: "no usage database at "},
		{name: "no file", setup: func(dir string) { os.Mkdir(dir, 0o700) }, noDB: true, want: "usage.db (is data_dir right?)"},
		{name: "an empty file", setup: func(dir string) {
			os.Mkdir(dir, 0o700)
			os.WriteFile(filepath.Join(dir, tracking.FileName), nil, 0o600)
		}, noDB: true, want: "usage.db: the file is empty (is data_dir right?)"},
		{name: "a directory", setup: func(dir string) {
			os.MkdirAll(filepath.Join(dir, tracking.FileName), 0o700)
		}, want: "usage.db is a directory, not a usage database"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			tc.setup(dir)
			before := entries(t, dir)
			_, err := tracking.Find(dir)
			if err == nil || errors.Is(err, tracking.ErrNoDatabase) != tc.noDB || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Find: %v; want an error saying %q (ErrNoDatabase: %v)", err, tc.want, tc.noDB)
			}
			if after := entries(t, dir); strings.Join(after, ",") != strings.Join(before, ",") {
				t.Errorf("Find changed the data dir: %v, then %v", before, after)
			}
		})
	}
	dir := t.TempDir()
	open(t, dir)
	if path, err := tracking.Find(dir); err != nil || path != filepath.Join(dir, tracking.FileName) {
		t.Errorf("Find on a database: %q, %v", path, err)
	}
}

// An empty file (nothing was in it) becomes a new database where it is.
func TestRecoverAnEmptyFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, tracking.FileName), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	rep, err := tracking.Recover(dir)
	if err != nil || !rep.Empty || rep.MovedTo != "" || len(rep.Problems) != 0 {
		t.Fatalf("recover of an empty file: %+v, %v", rep, err)
	}
	if names := entries(t, dir); len(names) != 1 {
		t.Errorf("the data dir holds %v; want only the new usage.db", names)
	}
	open(t, dir) // a database now
}

// A directory, or no file, in the database's place is refused, and
// nothing is moved or created.
func TestRecoverRefusesWhatIsNotADatabase(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(dir string)
		want  string
	}{
		{name: "no file", setup: func(dir string) {}, want: "usage.db (is data_dir right?): nothing was done"},
		{name: "a directory", setup: func(dir string) {
			os.Mkdir(filepath.Join(dir, tracking.FileName), 0o700)
		}, want: "usage.db is a directory, not a usage database: nothing was done"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			tc.setup(dir)
			before := entries(t, dir)
			rep, err := tracking.Recover(dir)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("recover: %+v, %v; want an error saying %q", rep, err, tc.want)
			}
			if after := entries(t, dir); strings.Join(after, ",") != strings.Join(before, ",") {
				t.Errorf("recover changed the data dir: %v, then %v", before, after)
			}
		})
	}
}

// smallQueue writes a usage database in dir whose sink "q" has n small
// events queued, keys 1 to n, packed as the outbox packs them, and returns
// its path.
func smallQueue(t *testing.T, dir string, n int) string {
	t.Helper()
	open(t, dir).Close()
	path := filepath.Join(dir, tracking.FileName)
	b, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	err = b.Update(func(tx *bolt.Tx) error {
		q, err := tx.Bucket([]byte("queues")).CreateBucket([]byte("q"))
		if err != nil {
			return err
		}
		q.FillPercent = 1
		for range n {
			seq, _ := q.NextSequence()
			if err := q.Put(binary.BigEndian.AppendUint64(nil, seq), fmt.Appendf(nil, "event-%06d", seq)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// damageLeaf scribbles over the header of the leaf page in use that holds
// value, and returns the keys it held: what a recovery cannot read.
func damageLeaf(t *testing.T, path, value string) (first, last uint64) {
	t.Helper()
	b, err := bolt.Open(path, 0o600, nil) // read-write: Page needs the freelist
	if err != nil {
		t.Fatal(err)
	}
	size := b.Info().PageSize
	data, _ := os.ReadFile(path)
	page := -1
	b.View(func(tx *bolt.Tx) error {
		for id := 2; ; id++ {
			info, _ := tx.Page(id)
			if info == nil {
				return nil
			}
			if info.Type == "leaf" && bytes.Contains(data[id*size:(id+1)*size], []byte(value)) {
				page = id
			}
		}
	})
	b.Close()
	if page < 0 {
		t.Fatalf("no leaf page in use holds %q", value)
	}
	held := regexp.MustCompile(`event-(\d{6})`).FindAllSubmatch(data[page*size:(page+1)*size], -1)
	first, _ = strconv.ParseUint(string(held[0][1]), 10, 64)
	last, _ = strconv.ParseUint(string(held[len(held)-1][1]), 10, 64)
	copy(data[page*size+2:], "garbage-garbage-garbage")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return first, last
}

// Past a damaged page a recovery copies every entry that can still be
// read — none of the next page is skipped with it — and counts those on
// the damaged page, wherever it is in the queue.
func TestRecoverCountsWhatADamagedPageHeld(t *testing.T) {
	const n = 1000 // about 110 to a page: 9 pages
	for _, tc := range []struct {
		name string
		key  int // the damaged page holds it
	}{
		{"the first page", 1},
		{"a page in the middle", 500},
		{"the last page", n},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := smallQueue(t, dir, n)
			first, last := damageLeaf(t, path, fmt.Sprintf("event-%06d", tc.key))
			held := int(last - first + 1)
			if held < 40 {
				t.Fatalf("the damaged page holds %d entries (%d to %d); want a page fuller than the recovery's first steps", held, first, last)
			}
			rep, err := tracking.Recover(dir)
			if err != nil {
				t.Fatal(err)
			}
			want := fmt.Sprintf("queues/q: up to %d entries, keys %d to %d, could not be read: a damaged page ", held, first, last)
			if rep.Copied["queues/q"] != n-held || rep.Lost["queues/q"] != held || rep.Complete() ||
				len(rep.Problems) != 1 || !strings.HasPrefix(rep.Problems[0], want) {
				t.Fatalf("copied %d, lost %d, problems %q; want %d copied, %d lost, a problem saying %q",
					rep.Copied["queues/q"], rep.Lost["queues/q"], rep.Problems, n-held, held, want)
			}
			if copied, lost := rep.Events(); copied != n-held || lost != held {
				t.Errorf("Events() = %d, %d; want %d, %d", copied, lost, n-held, held)
			}
			db := open(t, dir)
			if st := db.Stats(); len(st.Sinks) != 1 || st.Sinks[0].Queued != int64(n-held) {
				t.Errorf("the new file holds %+v; want %d queued", st.Sinks, n-held)
			}
		})
	}
}

// A file whose meta pages are both damaged cannot be read at all: the
// report says so and why, copies nothing, and does not pass for complete.
func TestRecoverOfAFileWithBothMetaPagesDamaged(t *testing.T) {
	dir := t.TempDir()
	path := smallQueue(t, dir, 10)
	data, _ := os.ReadFile(path)
	for i := 0; i < 2*4096; i += 4096 {
		copy(data[i+16:], "scribbled over by a bad disk")
	}
	os.WriteFile(path, data, 0o600)
	rep, err := tracking.Recover(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := "both of its meta pages, the first two pages of the file, which say where everything else is, are damaged"
	if rep.Complete() || !strings.Contains(rep.Unreadable, want) || len(rep.Copied) != 0 {
		t.Fatalf("report %+v; want nothing copied, and Unreadable saying %q", rep, want)
	}
	if kept, _ := os.ReadFile(rep.MovedTo); !bytes.Equal(kept, data) {
		t.Errorf("the damaged file was not kept as it was at %s", rep.MovedTo)
	}
	if st := open(t, dir).Stats(); len(st.Sinks) != 0 {
		t.Errorf("the new file holds %+v", st.Sinks)
	}
}

// A file whose root page — the one every bucket is reached through — is
// damaged opens, but not one entry can be read: that is no partial
// recovery either.
func TestRecoverOfAFileWithItsRootPageDamaged(t *testing.T) {
	dir := t.TempDir()
	path := smallQueue(t, dir, 10)
	data, _ := os.ReadFile(path)
	for _, meta := range []int{0, 4096} { // the root each meta page points to
		root := int(binary.LittleEndian.Uint64(data[meta+32:]))
		copy(data[root*4096+2:], "garbage-garbage-garbage")
	}
	os.WriteFile(path, data, 0o600)
	rep, err := tracking.Recover(dir)
	if err != nil {
		t.Fatal(err)
	}
	if want := "not one entry could be read; the first problem: queues: "; rep.Complete() || !strings.HasPrefix(rep.Unreadable, want) {
		t.Fatalf("report %+v; want Unreadable saying %q", rep, want)
	}
	if _, lost := rep.Events(); lost != -1 {
		t.Errorf("Events() lost %d; want -1 (unknown)", lost)
	}
}
