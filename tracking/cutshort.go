package tracking

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"io"
	"os"
)

// bbolt's meta page, as it lays it out (go.etcd.io/bbolt/internal/common):
// a 16-byte page header, then magic, version and page size (uint32 each),
// flags, the root bucket (two uint64), the freelist page, the high-water
// page id, the transaction id and a checksum of what precedes it.
const (
	boltPageHeader = 16
	boltMagic      = 0xED0CDAED
	boltVersion    = 2
	metaPageSize   = 8
	metaHighWater  = 40
	metaChecksum   = 56
)

// cutShort reports, as ErrCorrupt, a file shorter than the pages its valid
// meta pages say were written: a copy or restore that did not finish. bbolt
// maps the file, and reading a page past its end kills the process with
// SIGBUS, which recover() cannot catch; so this is checked before opening.
// A file it cannot read is left to bbolt to report.
func cutShort(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || fi.Size() == 0 {
		return nil // a new file
	}
	// The second meta page follows the first, one page on: of the size the
	// first says, or, when it is damaged, the size bbolt then assumes.
	var need int64
	pageSize := int64(os.Getpagesize())
	if size, highWater, ok := readMeta(f, 0); ok {
		pageSize, need = size, highWater*size
	}
	if size, highWater, ok := readMeta(f, pageSize); ok {
		need = max(need, highWater*size)
	}
	if fi.Size() < need {
		return corrupt(path, fmt.Errorf("the file is cut short: %d bytes, where its last commit wrote %d "+
			"(a copy, restore or disk write that did not finish)", fi.Size(), need))
	}
	return nil
}

// readMeta reads the meta page at offset at, and reports whether it is
// one: its magic, version and checksum hold.
func readMeta(r io.ReaderAt, at int64) (pageSize, highWater int64, ok bool) {
	var b [boltPageHeader + metaChecksum + 8]byte
	if _, err := r.ReadAt(b[:], at); err != nil {
		return 0, 0, false
	}
	m := b[boltPageHeader:]
	le := binary.NativeEndian // bbolt writes the struct as it is in memory
	h := fnv.New64a()
	h.Write(m[:metaChecksum])
	if le.Uint32(m) != boltMagic || le.Uint32(m[4:]) != boltVersion || le.Uint64(m[metaChecksum:]) != h.Sum64() {
		return 0, 0, false
	}
	return int64(le.Uint32(m[metaPageSize:])), int64(le.Uint64(m[metaHighWater:])), true
}
