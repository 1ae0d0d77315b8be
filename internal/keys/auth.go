package keys

import (
	"context"
	"crypto/subtle"
	"encoding/hex"
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
	mu       sync.Mutex // serializes Refresh; guards what follows
	modStore fileStamp
	modFile  fileStamp
	// fileKeys are the keys file's as it last read; fileErr is why it
	// does not read now, nil when it does.
	fileKeys []Key
	fileErr  error
	// warned is the problem Watch last warned about, so that it warns
	// once, not at every tick.
	warned problem
}

// problem is a refresh's error with the keys file's stamp when it was
// found: a new error, or the same in a file that changed, is a new problem.
type problem struct {
	msg  string
	file fileStamp
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
// last read (or always, with force), and reports whether it did. A store
// that does not read leaves the keys loaded in force. A keys file that does
// not read leaves the keys it held when it last read in force, merged with
// the store's as they are now, so that a revocation in the store takes
// effect while the file is broken; its error is returned by every Refresh
// until the file reads again (the file is re-read only when it changes).
func (a *Authenticator) Refresh(force bool) (bool, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	ss, fs := stamp(a.store.Path()), fileStamp{}
	if a.file != "" {
		fs = stamp(a.file)
	}
	fileChanged := a.file != "" && (force || fs != a.modFile)
	if !force && ss == a.modStore && !fileChanged {
		return false, a.fileErr
	}
	fromStore, err := a.store.List()
	if err != nil {
		return false, err
	}
	if fileChanged {
		if ks, err := ReadFile(a.file); err != nil {
			a.fileErr = err
		} else {
			a.fileKeys, a.fileErr = ks, nil
		}
	}
	all, stale := Merge(fromStore, a.fileKeys)
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
	return true, a.fileErr
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

// Watch refreshes every interval until ctx is done. It warns of a
// problem once, when it appears and again only when it changes (another
// error, or the keys file rewritten and still wrong), and says when the
// keys read again. Call it once per Authenticator.
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
			a.tick()
		}
	}
}

// tick is one refresh of Watch, and what it logs.
func (a *Authenticator) tick() {
	changed, err := a.Refresh(false)
	a.mu.Lock()
	defer a.mu.Unlock()
	switch {
	case err != nil:
		p := problem{msg: err.Error(), file: a.modFile}
		switch {
		case p == a.warned:
		case err == a.fileErr:
			a.log.Warn("auth.keys_file does not read: the keys it held when it last read stay in force, with keys.db's as they are now (warned again when the file or the error changes)", "err", err)
		default:
			a.log.Warn("cannot re-read the virtual keys: the keys already loaded stay in force (warned again when the error changes)", "err", err)
		}
		a.warned = p
	case a.warned != problem{}:
		a.warned = problem{}
		a.log.Info("the virtual keys read again; all of them are in force", "keys", a.Count())
	case changed:
		a.log.Info("virtual keys reloaded", "keys", a.Count())
	}
}

var _ core.Authenticator = (*Authenticator)(nil)
