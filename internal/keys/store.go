package keys

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
)

// FileName is the key store's file in the data directory.
const FileName = "keys.db"

var bucketKeys = []byte("keys")

// Store is the key store of one data directory. It opens the file only for
// the length of each operation, so that the command line and a running
// gateway share it. A Store is safe for concurrent use.
type Store struct {
	path string
	now  func() time.Time
}

// NewStore returns the store in dir; the file is created on the first
// write.
func NewStore(dir string) *Store {
	return &Store{path: filepath.Join(dir, FileName), now: time.Now}
}

// Path is the store's file.
func (s *Store) Path() string { return s.path }

func (s *Store) open(readOnly bool) (*bolt.DB, error) {
	if !readOnly {
		if err := os.MkdirAll(filepath.Dir(s.path), 0o700); err != nil {
			return nil, fmt.Errorf("keys: %w", err)
		}
	}
	db, err := bolt.Open(s.path, 0o600, &bolt.Options{Timeout: 5 * time.Second, ReadOnly: readOnly})
	if err != nil {
		return nil, fmt.Errorf("keys: opening %s: %w", s.path, err)
	}
	return db, nil
}

// Create makes a key and returns it — the only time it is shown — with its
// record.
func (s *Store) Create(spec Spec) (string, Key, error) {
	if err := spec.Check(); err != nil {
		return "", Key{}, err
	}
	secret, id, err := generate()
	if err != nil {
		return "", Key{}, fmt.Errorf("keys: %w", err)
	}
	h := Hash(secret)
	now := s.now().UTC()
	k := Key{ID: id, Name: spec.Name, Hint: hint(secret), Hash: hex.EncodeToString(h[:]), Customer: spec.Customer,
		Team: spec.Team, Models: spec.Models, Limits: spec.Limits, Metadata: spec.Metadata, Created: now}
	if spec.TTL > 0 {
		exp := now.Add(spec.TTL)
		k.Expires = &exp
	}
	err = s.update(func(b *bolt.Bucket) error {
		v, err := json.Marshal(k)
		if err != nil {
			return err
		}
		return b.Put([]byte(k.ID), v)
	})
	if err != nil {
		return "", Key{}, err
	}
	return secret, k, nil
}

// Revoke revokes a key by id. Revoking a revoked key is not an error.
func (s *Store) Revoke(id string) (Key, error) {
	var k Key
	err := s.update(func(b *bolt.Bucket) error {
		v := b.Get([]byte(id))
		if v == nil {
			return fmt.Errorf("%w: %s", ErrNotFound, id)
		}
		if err := json.Unmarshal(v, &k); err != nil {
			return err
		}
		if k.Revoked == nil {
			t := s.now().UTC()
			k.Revoked = &t
		}
		nv, err := json.Marshal(k)
		if err != nil {
			return err
		}
		return b.Put([]byte(id), nv)
	})
	return k, err
}

// List returns every key, oldest first. A store never written is empty.
func (s *Store) List() ([]Key, error) {
	if _, err := os.Stat(s.path); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	db, err := s.open(true)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	var out []Key
	err = db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketKeys)
		if b == nil {
			return nil
		}
		return b.ForEach(func(_, v []byte) error {
			var k Key
			if err := json.Unmarshal(v, &k); err != nil {
				return fmt.Errorf("keys: a record in %s is damaged: %w", s.path, err)
			}
			out = append(out, k)
			return nil
		})
	})
	slices.SortFunc(out, func(a, b Key) int { return a.Created.Compare(b.Created) })
	return out, err
}

func (s *Store) update(f func(*bolt.Bucket) error) error {
	db, err := s.open(false)
	if err != nil {
		return err
	}
	defer db.Close()
	return db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketKeys)
		if err != nil {
			return err
		}
		return f(b)
	})
}
