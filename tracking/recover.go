package tracking

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
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
	// Lost counts, by bucket, the entries that were on pages that could
	// not be read: at most that many, as the keys either side of a damaged
	// page tell (queue and dead-letter keys are sequence numbers; keys
	// deleted before the damage, by a replay or a purge, count too).
	// -1 means their number cannot be told: the ledger's keys are not
	// numbers, and a damaged list of sinks hides whole queues.
	Lost map[string]int `json:"lost,omitempty"`
	// Problems lists what could not be read, where, and why.
	Problems []string `json:"problems,omitempty"`
	// Unreadable, when set, says why nothing at all could be read from the
	// file (both of its meta pages are damaged, say, or the page every
	// bucket is reached through): nothing was copied, and the new file is
	// empty.
	Unreadable string `json:"unreadable,omitempty"`
}

// Complete reports whether every entry of the file was copied.
func (r *RecoverReport) Complete() bool { return r.Unreadable == "" && len(r.Problems) == 0 }

// Events sums the entries of the sinks' queues and dead letters — usage
// events, and payloads such as decision logs — that were copied, and those
// that could not be read: at most lost, or an unknown number when lost is -1.
func (r *RecoverReport) Events() (copied, lost int) {
	for label, n := range r.Copied {
		if isSinkBucket(label) {
			copied += n
		}
	}
	for label, n := range r.Lost {
		switch {
		case !isSinkBucket(label):
		case n < 0 || lost < 0:
			lost = -1
		default:
			lost += n
		}
	}
	return copied, lost
}

// isSinkBucket reports whether a report's label names sinks' queues or
// dead letters ("queues/tracker", or "dead" when their list was damaged).
func isSinkBucket(label string) bool {
	top, _, _ := strings.Cut(label, "/")
	return top == string(bucketQueues) || top == string(bucketDead)
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
// letters, ledger rows, counters, the Deliverer's URLs — into a new file.
// It refuses while another process has the file open. On a healthy file it
// is a compaction; an empty file becomes a new database where it is. It
// touches nothing where there is no usage database file (see [Find]).
//
// The error is nil once the file is moved aside, even when not everything
// could be read: the report's [RecoverReport.Complete] says whether it
// was, Lost and Problems what was not, and Unreadable why nothing was.
func Recover(dir string) (*RecoverReport, error) {
	path, size, err := stat(dir)
	if err != nil {
		return nil, fmt.Errorf("%w: nothing was done", err)
	}
	if _, ok := lookup(dir); ok {
		return nil, fmt.Errorf("%w: %s is open in this process", ErrLocked, path)
	}
	rep := &RecoverReport{Path: path, Copied: map[string]int{}, Lost: map[string]int{}}
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
		rep.Unreadable = unreadable(err)
	} else {
		defer src.Close()
		salvage(src, dst, rep)
		if len(rep.Problems) > 0 && copiedNothing(rep) {
			// A healthy file has its schema version at least: the pages
			// every bucket is reached through are damaged.
			rep.Unreadable = "not one entry could be read; the first problem: " + rep.Problems[0]
		}
	}
	return rep, createTop(dst)
}

// copiedNothing reports whether no entry at all was copied.
func copiedNothing(rep *RecoverReport) bool {
	for _, n := range rep.Copied {
		if n > 0 {
			return false
		}
	}
	return true
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

// unreadable says why bbolt could not open a file at all.
func unreadable(err error) string {
	if errors.Is(err, bolterrors.ErrInvalid) || errors.Is(err, bolterrors.ErrChecksum) || errors.Is(err, bolterrors.ErrVersionMismatch) {
		// bbolt reads everything else from where a meta page points.
		return fmt.Sprintf("both of its meta pages, the first two pages of the file, which say where everything else is, are damaged (or it is not a bbolt file at all): %v", err)
	}
	return err.Error()
}

func openDamaged(path string) (db *bolt.DB, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v", r)
		}
	}()
	return bolt.Open(path, 0o400, &bolt.Options{ReadOnly: true, Timeout: time.Second})
}
