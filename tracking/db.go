package tracking

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/tollgate-dev/tollgate/internal/datasync"
)

// FileName is the usage database's file inside the data directory.
const FileName = "usage.db"

// schemaVersion is written in the meta bucket; a file with another version
// is refused rather than misread.
const schemaVersion = 1

// Bucket names. Queues and dead letters hold one nested bucket per sink.
var (
	bucketMeta    = []byte("meta")
	bucketQueues  = []byte("queues")
	bucketDead    = []byte("dead")
	bucketLedger  = []byte("ledger")
	bucketDropped = []byte("dropped")
	// bucketLedgerAside keeps ledger rows that could not be read, as they
	// were, under "row key\x00sequence" (see setAside).
	bucketLedgerAside = []byte("ledger_damaged")
	keyVersion        = []byte("version")
)

// Errors from [Open].
var (
	// ErrCorrupt means the usage database cannot be read safely. The
	// gateway refuses to start rather than lose usage silently; `tollgate
	// usage recover` moves the file aside and salvages what it can.
	ErrCorrupt = errors.New("tracking: the usage database is corrupt")
	// ErrLocked means another process holds the usage database.
	ErrLocked = errors.New("tracking: the usage database is in use by another process")
)

// DB is the embedded usage database of one data directory: the outbox
// queues, the dead letters and the ledger, in one bbolt file. Opening the
// same directory twice in a process returns the same DB; each Open is
// matched by a Close, and the file is closed with the last one. A DB is safe
// for concurrent use.
type DB struct {
	path string
	bolt *bolt.DB
	log  *slog.Logger
	refs int // guarded by registryMu

	// readOnly: opened with [ReadOnly], outside the registry.
	readOnly bool

	mu          sync.Mutex
	sinks       map[string]*sinkState // by sink name
	ledgerOwner string                // the stage that feeds the ledger
	outboxes    map[*Outbox]struct{}
}

var (
	registryMu sync.Mutex
	registry   = map[string]*DB{}
)

// Option configures [Open].
type Option func(*openOptions)

type openOptions struct {
	log         *slog.Logger
	lockTimeout time.Duration
	verify      bool
	readOnly    bool
	// fdatasync replaces datasync.Fdatasync when not nil: the tests' way
	// to make the disk fail, as a full one does.
	fdatasync func(*os.File) error
}

// WithLogger sets the logger for delivery warnings and errors.
func WithLogger(l *slog.Logger) Option { return func(o *openOptions) { o.log = l } }

// WithLockTimeout bounds the wait for another process to release the file
// (default 2s); then Open fails with [ErrLocked].
func WithLockTimeout(d time.Duration) Option { return func(o *openOptions) { o.lockTimeout = d } }

// WithoutVerify skips the full consistency check Open runs on the file
// (its cost grows with the file: about a second per GB).
func WithoutVerify() Option { return func(o *openOptions) { o.verify = false } }

// ReadOnly opens an existing file only to read it, under a shared lock:
// Open neither creates nor changes the file, and [DB.Replay], [DB.Purge]
// and [DB.NewOutbox] fail. Read-only opens share the file with each other;
// while a process has it open to write (a running gateway), they fail with
// [ErrLocked] after the lock timeout, and a gateway starting meanwhile
// waits for them. In a process that has the file open to write, Open
// returns that DB.
func ReadOnly() Option { return func(o *openOptions) { o.readOnly = true } }

// Open opens (creating it if needed) the usage database in dir. It checks
// the whole file and returns an error wrapping [ErrCorrupt] if any part of
// it cannot be read, or [ErrLocked] if another process holds it.
func Open(dir string, opts ...Option) (*DB, error) {
	o := openOptions{log: slog.Default(), lockTimeout: 2 * time.Second, verify: true}
	for _, opt := range opts {
		opt(&o)
	}
	if o.log == nil {
		o.log = slog.Default()
	}
	path, err := filepath.Abs(filepath.Join(dir, FileName))
	if err != nil {
		return nil, fmt.Errorf("tracking: %w", err)
	}
	registryMu.Lock()
	defer registryMu.Unlock()
	if db, ok := registry[path]; ok {
		db.refs++
		return db, nil
	}
	if o.readOnly {
		return openReadOnly(path, o)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, fmt.Errorf("tracking: data_dir: %w", err)
	}
	b, err := openBolt(path, o)
	if err != nil {
		return nil, err
	}
	db := &DB{path: path, bolt: b, log: o.log, refs: 1, sinks: map[string]*sinkState{}, outboxes: map[*Outbox]struct{}{}}
	if err := db.init(); err != nil {
		b.Close()
		return nil, err
	}
	registry[path] = db
	return db, nil
}

// openReadOnly opens the file at path under a shared lock, outside the
// registry: a DB there would be handed to a caller that means to write.
func openReadOnly(path string, o openOptions) (*DB, error) {
	b, err := openBolt(path, o)
	if err != nil {
		return nil, err
	}
	db := &DB{path: path, bolt: b, log: o.log, refs: 1, readOnly: true, sinks: map[string]*sinkState{}, outboxes: map[*Outbox]struct{}{}}
	if err := db.check(); err != nil {
		b.Close()
		return nil, err
	}
	return db, nil
}

// openBolt opens and checks the file, turning bbolt's errors and panics on
// a damaged file into ErrCorrupt.
func openBolt(path string, o openOptions) (b *bolt.DB, err error) {
	defer func() {
		if r := recover(); r != nil {
			if b != nil {
				b.Close()
			}
			b, err = nil, corrupt(path, fmt.Errorf("%v", r))
		}
	}()
	if err := cutShort(path); err != nil {
		return nil, err
	}
	bo := boltOptions(o.lockTimeout)
	if o.fdatasync != nil {
		bo.Fdatasync = o.fdatasync
	}
	if o.readOnly {
		bo.ReadOnly, bo.InitialMmapSize = true, 0 // the large mapping is for a file that grows
	}
	b, err = bolt.Open(path, 0o600, bo)
	switch {
	case errors.Is(err, bolterrors.ErrTimeout):
		return nil, fmt.Errorf("%w: %s is locked; is another tollgate running with this data_dir? "+
			"While it runs, use its admin listener (tollgate usage … talks to it when admin_listen is set)", ErrLocked, path)
	case errors.Is(err, bolterrors.ErrInvalid), errors.Is(err, bolterrors.ErrChecksum),
		errors.Is(err, bolterrors.ErrVersionMismatch), errors.Is(err, bolterrors.ErrInvalidMapping):
		return nil, corrupt(path, err)
	case err != nil:
		return nil, fmt.Errorf("tracking: opening %s: %w", path, err)
	}
	if !o.verify {
		return b, nil
	}
	var problems []error
	err = b.View(func(tx *bolt.Tx) error {
		for e := range tx.Check() {
			if len(problems) < 5 {
				problems = append(problems, e)
			}
		}
		return nil
	})
	if err == nil && len(problems) > 0 {
		err = errors.Join(problems...)
	}
	if err != nil {
		b.Close()
		return nil, corrupt(path, err)
	}
	return b, nil
}

// boltOptions are the settings the file is opened with: the hashmap
// freelist, and an initial mapping large enough that readers are rarely
// blocked by a remap. The freelist is written on each commit
// (NoFreelistSync off): without it bbolt rebuilds the list at open in a
// goroutine whose panic on a damaged file could not be turned into ErrCorrupt.
//
// Its fdatasyncs go through datasync, which parks the writer instead of
// holding a Go processor while the disk works (the bbolt in third_party
// takes the hook; its order of syncs is bbolt's own).
func boltOptions(lockTimeout time.Duration) *bolt.Options {
	return &bolt.Options{Timeout: lockTimeout, FreelistType: bolt.FreelistMapType, InitialMmapSize: 64 << 20,
		Fdatasync: datasync.Fdatasync}
}

// corrupt builds the error a damaged file gets: what, where, what to do.
func corrupt(path string, cause error) error {
	return fmt.Errorf("%w: %s: %v. tollgate will not start rather than lose usage silently. "+
		"Stop every tollgate using this data_dir, then run `tollgate usage recover --config FILE`: "+
		"it moves the file aside and copies every readable event, dead letter and ledger row into a new one "+
		"(docs/operations.md)", ErrCorrupt, path, cause)
}

// topBuckets are the file's top-level buckets, created at open.
var topBuckets = [][]byte{bucketMeta, bucketQueues, bucketDead, bucketLedger, bucketDropped, bucketLedgerAside}

// init creates the buckets and checks the schema version.
func (db *DB) init() (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = corrupt(db.path, fmt.Errorf("%v", r))
		}
	}()
	return db.bolt.Update(func(tx *bolt.Tx) error {
		for _, name := range topBuckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return corrupt(db.path, err)
			}
		}
		meta := tx.Bucket(bucketMeta)
		v := meta.Get(keyVersion)
		if v == nil {
			return meta.Put(keyVersion, u64(schemaVersion))
		}
		return db.checkVersion(v)
	})
}

// check is init for a file opened read-only: it creates nothing, so a file
// without the buckets and the schema version is refused.
func (db *DB) check() (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = corrupt(db.path, fmt.Errorf("%v", r))
		}
	}()
	return db.bolt.View(func(tx *bolt.Tx) error {
		for _, name := range topBuckets {
			if tx.Bucket(name) == nil && !bytes.Equal(name, bucketLedgerAside) { // ledger_damaged came later; readers do without
				return fmt.Errorf("tracking: %s has no %s bucket: it is not a usage database tollgate has opened (is data_dir right?)", db.path, name)
			}
		}
		v := tx.Bucket(bucketMeta).Get(keyVersion)
		if v == nil {
			return fmt.Errorf("tracking: %s has no schema version: it is not a usage database tollgate has opened (is data_dir right?)", db.path)
		}
		return db.checkVersion(v)
	})
}

// checkVersion refuses a schema version this tollgate cannot read.
func (db *DB) checkVersion(v []byte) error {
	switch {
	case len(v) != 8:
		return corrupt(db.path, fmt.Errorf("schema version is %d bytes", len(v)))
	case binary.BigEndian.Uint64(v) != schemaVersion:
		return fmt.Errorf("tracking: %s has schema version %d; this tollgate reads version %d: run the tollgate that wrote it, or recover",
			db.path, binary.BigEndian.Uint64(v), schemaVersion)
	}
	return nil
}

// Path is the database file's absolute path.
func (db *DB) Path() string { return db.path }

// Close releases this reference; the last one closes the file.
func (db *DB) Close() error {
	if db.readOnly {
		return db.bolt.Close()
	}
	registryMu.Lock()
	defer registryMu.Unlock()
	db.refs--
	if db.refs > 0 {
		return nil
	}
	delete(registry, db.path)
	return db.bolt.Close()
}

// lookup returns the DB open for dir in this process, if any.
func lookup(dir string) (*DB, bool) {
	path, err := filepath.Abs(filepath.Join(dir, FileName))
	if err != nil {
		return nil, false
	}
	registryMu.Lock()
	defer registryMu.Unlock()
	db, ok := registry[path]
	return db, ok
}

// FileSize is the database file's size on disk. bbolt reuses freed pages
// but does not shrink the file.
func (db *DB) FileSize() int64 {
	fi, err := os.Stat(db.path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// u64 encodes a key or counter big-endian, so keys sort numerically.
func u64(n uint64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], n)
	return b[:]
}
