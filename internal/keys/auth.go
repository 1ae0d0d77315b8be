package keys

import (
	"context"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tollgate-dev/tollgate/core"
)

// Authenticator checks virtual keys against an in-memory copy of the store
// and the keys file, if any, merged as [Merge] does (a revocation or expiry
// wins wherever it is found), refreshed when they change. It implements
// core.Authenticator and is safe for concurrent use.
//
// A key is looked up by its SHA-256 and the stored hash is then compared in
// constant time; timing the lookup tells an attacker only about the hashes
// of their own guesses, never about a stored key.
type Authenticator struct {
	store    *Store
	file     string
	log      *slog.Logger
	now      func() time.Time
	snap     atomic.Pointer[snapshot]
	mu       sync.Mutex // serializes Refresh
	modStore fileStamp
	modFile  fileStamp
}

type snapshot struct {
	byHash  map[[32]byte]*entry
	count   int
	limited int // keys with limits of their own, revoked ones excluded
}

type entry struct {
	key  Key
	hash [32]byte
	p    *core.Principal
}

type fileStamp struct {
	mod  time.Time
	size int64
	ok   bool
}

// NewAuthenticator loads the keys of store and, if file is not empty, of
// the exported keys file.
func NewAuthenticator(store *Store, file string, log *slog.Logger) (*Authenticator, error) {
	if log == nil {
		log = slog.Default()
	}
	a := &Authenticator{store: store, file: file, log: log, now: time.Now}
	a.snap.Store(&snapshot{byHash: map[[32]byte]*entry{}})
	if _, err := a.Refresh(true); err != nil {
		return nil, err
	}
	return a, nil
}

// Count reports how many keys are loaded, revoked ones included.
func (a *Authenticator) Count() int { return a.snap.Load().count }

// Limited reports how many keys not revoked carry limits of their own
// (requests or tokens per minute, a monthly budget): limits that only a
// stage enforces, such as the ratelimit built-in.
func (a *Authenticator) Limited() int { return a.snap.Load().limited }

// Refresh re-reads the store and the keys file if either changed since the
// last read (or always, with force), and reports whether it did. On error
// the keys already loaded stay in force.
func (a *Authenticator) Refresh(force bool) (bool, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	ss, fs := stamp(a.store.Path()), fileStamp{}
	if a.file != "" {
		fs = stamp(a.file)
	}
	if !force && ss == a.modStore && fs == a.modFile {
		return false, nil
	}
	fromStore, err := a.store.List()
	if err != nil {
		return false, err
	}
	var fromFile []Key
	if a.file != "" {
		if fromFile, err = ReadFile(a.file); err != nil {
			return false, err
		}
	}
	all, stale := Merge(fromStore, fromFile)
	for _, id := range stale {
		a.log.Warn("auth.keys_file still lists a key that keys.db has revoked; the key stays revoked: export the keys again (tollgate keys export) to update the file",
			"key_id", id, "keys_file", a.file)
	}
	s := &snapshot{byHash: make(map[[32]byte]*entry, len(all)), count: len(all)}
	for _, k := range all {
		var h [32]byte
		if n, err := hex.Decode(h[:], []byte(k.Hash)); err != nil || n != 32 {
			a.log.Warn("a virtual key record has a malformed hash; ignoring it", "key_id", k.ID)
			continue
		}
		s.byHash[h] = &entry{key: k.Key, hash: h, p: k.Principal()}
		if k.HasLimits() && k.Revoked == nil {
			s.limited++
		}
	}
	a.snap.Store(s)
	a.modStore, a.modFile = ss, fs
	return true, nil
}

func stamp(path string) fileStamp {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{}
	}
	return fileStamp{mod: fi.ModTime(), size: fi.Size(), ok: true}
}

// errInvalid is the one answer for a missing, unknown, revoked or expired
// key, so that a caller learns nothing about which.
func errInvalid(msg string) error {
	return &core.Error{Kind: core.KindAuth, Code: "invalid_api_key", Message: msg}
}

// Authenticate checks a credential.
func (a *Authenticator) Authenticate(_ context.Context, credential string) (*core.Principal, error) {
	if credential == "" {
		return nil, errInvalid("this gateway needs a tollgate API key: send it as a provider SDK sends its API key")
	}
	h := Hash(credential)
	e, ok := a.snap.Load().byHash[h]
	if !ok || subtle.ConstantTimeCompare(e.hash[:], h[:]) != 1 || !e.key.Valid(a.now()) {
		return nil, errInvalid("the API key is not valid for this gateway (unknown, revoked or expired)")
	}
	return e.p, nil
}

// Watch refreshes every interval until ctx is done, logging failures.
func (a *Authenticator) Watch(ctx context.Context, interval time.Duration) {
	if interval <= 0 {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			changed, err := a.Refresh(false)
			switch {
			case err != nil && !errors.Is(err, context.Canceled):
				a.log.Warn("cannot re-read the virtual keys; the keys already loaded stay in force", "err", err)
			case changed:
				a.log.Info("virtual keys reloaded", "keys", a.Count())
			}
		}
	}
}

var _ core.Authenticator = (*Authenticator)(nil)
