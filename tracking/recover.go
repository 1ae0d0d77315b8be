package tracking

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/tollgate-dev/tollgate/core"
)

// RecoverReport says what [Recover] did.
type RecoverReport struct {
	// Path is the usage database's file.
	Path string `json:"path"`
	// MovedTo is where the damaged file now is; empty when the file was
	// empty (Empty), which leaves nothing to keep.
	MovedTo string `json:"moved_to,omitempty"`
	// Empty is true when the file was empty: nothing was in it, and it is
	// now a new database.
	Empty bool `json:"empty,omitempty"`
	// Copied counts the entries copied, by bucket ("queues/tracker",
	// "ledger", …).
	Copied map[string]int `json:"copied"`
	// Problems lists what could not be read.
	Problems []string `json:"problems,omitempty"`
}

// ErrNoDatabase means a data directory holds no usage database.
var ErrNoDatabase = errors.New("tracking: no usage database")

// Find returns the path of the usage database in dir. Unlike [Open] it
// creates nothing: where there is no database — no file, or an empty one —
// it returns an error wrapping [ErrNoDatabase], and a directory or any
// other kind of file in its place is an error too.
func Find(dir string) (string, error) {
	path, size, err := stat(dir)
	if err == nil && size == 0 {
		err = fmt.Errorf("%w at %s: the file is empty (is data_dir right?)", ErrNoDatabase, path)
	}
	return path, err
}

// stat returns the absolute path and size of the usage database's file in
// dir, or why there is no such regular file.
func stat(dir string) (path string, size int64, err error) {
	path, err = filepath.Abs(filepath.Join(dir, FileName))
	if err != nil {
		return "", 0, fmt.Errorf("tracking: %w", err)
	}
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return path, 0, fmt.Errorf("%w at %s (is data_dir right?)", ErrNoDatabase, path)
	case err != nil:
		return path, 0, fmt.Errorf("tracking: %w", err)
	case fi.IsDir():
		return path, 0, fmt.Errorf("tracking: %s is a directory, not a usage database", path)
	case !fi.Mode().IsRegular():
		return path, 0, fmt.Errorf("tracking: %s is a %s, not a usage database", path, fi.Mode().Type())
	}
	return path, fi.Size(), nil
}

// Recover moves the usage database in dir aside (to usage.db.damaged-TIME)
// and copies every entry that can still be read — queued events, dead
// letters, ledger rows, counters, the Deliverer's URLs — into a new file. It refuses while
// another process has the file open. On a healthy file it is a compaction;
// an empty file becomes a new database where it is. It touches nothing
// where there is no usage database file (see [Find]).
func Recover(dir string) (*RecoverReport, error) {
	path, size, err := stat(dir)
	if err != nil {
		return nil, fmt.Errorf("%w: nothing was done", err)
	}
	if _, ok := lookup(dir); ok {
		return nil, fmt.Errorf("%w: %s is open in this process", ErrLocked, path)
	}
	rep := &RecoverReport{Path: path, Copied: map[string]int{}}
	if size == 0 {
		// bbolt writes a new database into an empty file; its lock
		// keeps a gateway starting on it out meanwhile.
		dst, err := bolt.Open(path, 0o600, boltOptions(200*time.Millisecond))
		if errors.Is(err, bolterrors.ErrTimeout) {
			return nil, fmt.Errorf("%w: %s: stop the gateway first", ErrLocked, path)
		}
		if err != nil {
			return nil, fmt.Errorf("tracking: recover: %w", err)
		}
		defer dst.Close()
		rep.Empty = true
		return rep, createTop(dst)
	}
	// A shared lock fails fast while a gateway holds the file; a damaged
	// file fails after the lock, which tells the two apart.
	probe, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: 200 * time.Millisecond})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("%w: %s: stop the gateway first", ErrLocked, path)
	}
	if probe != nil {
		probe.Close()
	}
	rep.MovedTo = path + ".damaged-" + time.Now().UTC().Format("20060102T150405Z")
	if err := os.Rename(path, rep.MovedTo); err != nil {
		return nil, fmt.Errorf("tracking: recover: %w", err)
	}
	dst, err := bolt.Open(path, 0o600, boltOptions(time.Second))
	if err != nil {
		return nil, fmt.Errorf("tracking: recover: creating a new %s: %w", path, err)
	}
	defer dst.Close()
	src, err := openDamaged(rep.MovedTo)
	if err != nil {
		rep.Problems = append(rep.Problems, "nothing could be read: "+err.Error())
	} else {
		defer src.Close()
		salvage(src, dst, rep)
	}
	return rep, createTop(dst)
}

// createTop creates the top-level buckets and the schema version, as Open
// does, in a recovered file.
func createTop(dst *bolt.DB) error {
	return dst.Update(func(tx *bolt.Tx) error {
		for _, name := range topBuckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketMeta).Put(keyVersion, u64(schemaVersion))
	})
}

func openDamaged(path string) (db *bolt.DB, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	return bolt.Open(path, 0o400, &bolt.Options{ReadOnly: true, Timeout: time.Second})
}

// salvage copies what it can, one bucket at a time; a panic while reading
// a damaged page ends that bucket's copy, not the whole recovery.
func salvage(src, dst *bolt.DB, rep *RecoverReport) {
	type entry struct{ k, v []byte }
	copyBucket := func(label string, path ...[]byte) {
		var entries []entry
		var seq uint64
		// readFrom reads from start (nil: the first key) to the end; a
		// panic on a damaged page stops it and reports where.
		readFrom := func(start []byte) (done bool) {
			defer func() {
				if r := recover(); r != nil {
					msg := fmt.Sprintf("%s: a damaged page after entry %d: %v", label, len(entries), r)
					if n := len(rep.Problems); n == 0 || rep.Problems[n-1] != msg {
						rep.Problems = append(rep.Problems, msg)
					}
				}
			}()
			err := src.View(func(tx *bolt.Tx) error {
				b := tx.Bucket(path[0])
				for _, p := range path[1:] {
					if b == nil {
						break
					}
					b = b.Bucket(p)
				}
				if b == nil {
					return nil
				}
				seq = b.Sequence()
				c := b.Cursor()
				k, v := c.First()
				if start != nil {
					k, v = c.Seek(start)
				}
				for ; k != nil; k, v = c.Next() {
					if v == nil {
						continue // a nested bucket
					}
					entries = append(entries, entry{clone(k), clone(v)})
				}
				return nil
			})
			if err != nil {
				rep.Problems = append(rep.Problems, fmt.Sprintf("%s: %v", label, err))
			}
			return true
		}
		// Queue and dead-letter keys are sequence numbers: past a damaged
		// page, seek ever further ahead for the next readable one.
		var start []byte
		for skip := 0; !readFrom(start) && skip < 48; skip++ {
			last := start
			if len(entries) > 0 {
				last = entries[len(entries)-1].k
			}
			if len(last) != 8 && last != nil {
				break // not a sequence key: nothing to skip to
			}
			start = u64(beUint64(last) + 1<<skip)
		}
		err := dst.Update(func(tx *bolt.Tx) error {
			b, err := tx.CreateBucketIfNotExists(path[0])
			if err != nil {
				return err
			}
			for _, p := range path[1:] {
				if b, err = b.CreateBucketIfNotExists(p); err != nil {
					return err
				}
			}
			if err := b.SetSequence(seq); err != nil {
				return err
			}
			for _, e := range entries {
				if err := b.Put(e.k, e.v); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			rep.Problems = append(rep.Problems, fmt.Sprintf("%s: writing: %v", label, err))
			return
		}
		rep.Copied[label] = len(entries)
	}
	for _, parent := range [][]byte{bucketQueues, bucketDead} {
		var names [][]byte
		func() {
			defer func() {
				if r := recover(); r != nil {
					rep.Problems = append(rep.Problems, fmt.Sprintf("%s: listing sinks: %v", parent, r))
				}
			}()
			src.View(func(tx *bolt.Tx) error {
				if b := tx.Bucket(parent); b != nil {
					b.ForEachBucket(func(k []byte) error {
						names = append(names, clone(k))
						return nil
					})
				}
				return nil
			})
		}()
		for _, n := range names {
			copyBucket(string(parent)+"/"+string(n), parent, n)
		}
	}
	copyBucket(string(bucketLedger), bucketLedger)
	copyBucket(string(bucketLedgerAside), bucketLedgerAside)
	setAsideUnreadable(dst, rep)
	copyBucket(string(bucketDropped), bucketDropped)
	copyBucket(string(bucketMeta), bucketMeta) // the URL each deliver: queue is for
}

// setAsideUnreadable sets aside the copied ledger rows whose totals cannot
// be read (setAside), so that reports and budgets over them work again.
func setAsideUnreadable(dst *bolt.DB, rep *RecoverReport) {
	err := dst.Update(func(tx *bolt.Tx) error {
		if _, err := tx.CreateBucketIfNotExists(bucketLedgerAside); err != nil {
			return err
		}
		b := tx.Bucket(bucketLedger)
		if b == nil {
			return nil
		}
		var bad [][]byte
		c := b.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			var t core.UsageTotals
			if err := json.Unmarshal(v, &t); err != nil {
				if err := setAside(tx, k, v); err != nil {
					return err
				}
				rep.Problems = append(rep.Problems, fmt.Sprintf("ledger: row %s could not be read (%v): set aside in ledger_damaged", rowName(k), err))
				bad = append(bad, bytes.Clone(k))
			}
		}
		for _, k := range bad {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		rep.Problems = append(rep.Problems, fmt.Sprintf("ledger: setting aside unreadable rows: %v", err))
	}
}
