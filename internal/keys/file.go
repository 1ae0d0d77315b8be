package keys

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/internal/jsonscan"
	"github.com/tollgate-dev/tollgate/pipeline"
)

// ReadFile reads the keys file, auth.keys_file: an exported JSON array of
// keys (see `tollgate keys export`). An entry's key that no field of a key
// takes is refused, as POST /admin/keys refuses it: a typo such as
// "revokd" must not leave a key valid that the file means to revoke. Its
// errors start with the setting and the file and say where the file is
// wrong, naming the entry by its place and, when it has one, its id:
// `auth.keys_file kf.json: entry 0: id: want a string, got 5`,
// `auth.keys_file kf.json: entry 3 (key_3f9a1c2b7d4e): unknown key "revokd"
// (known: …)`.
func ReadFile(path string) ([]Key, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("auth.keys_file: %w", err)
	}
	ks, err := parseFile(data)
	if err != nil {
		return nil, fmt.Errorf("auth.keys_file %s: %w", path, err)
	}
	return ks, nil
}

func parseFile(data []byte) ([]Key, error) {
	if len(bytes.TrimSpace(data)) == 0 { // say so: an export that failed leaves an empty file
		return nil, errors.New("the file is empty: want a JSON array of keys (tollgate keys export), [] for none")
	}
	if why := jsonscan.Why(data); why != "" {
		return nil, fmt.Errorf("not valid JSON: %s", why)
	}
	var entries []json.RawMessage
	if err := json.Unmarshal(data, &entries); err != nil {
		return nil, fmt.Errorf("want a JSON array of keys (tollgate keys export), got %s",
			jsonscan.KindOf(strings.TrimSpace(string(data))).Described())
	}
	ks := make([]Key, len(entries))
	for i, raw := range entries {
		// as Loaded, so that the output of `tollgate keys list --json`,
		// which adds each key's source, reads back; the source is ignored
		var l Loaded
		if err := pipeline.DecodeJSON(raw, &l); err != nil {
			return nil, fmt.Errorf("%s: %w", entryName(i, raw), err)
		}
		k := &ks[i]
		*k = l.Key
		if k.ID == "" {
			return nil, fmt.Errorf("entry %d: id: missing (want the key's id, such as key_3f9a1c2b7d4e)", i)
		}
		if h, err := hex.DecodeString(k.Hash); err != nil || len(h) != 32 {
			return nil, fmt.Errorf("entry %d (%s): hash: want 64 hex digits (the key's SHA-256), got %s", i, k.ID, strconv.Quote(k.Hash))
		}
		k.Hash = strings.ToLower(k.Hash)
	}
	return ks, nil
}

// entryName names entry i of the file, raw, in an error: "entry 3", with
// its id when it has one that reads ("entry 3 (key_3f9a1c2b7d4e)"), which
// finds it in a long file.
func entryName(i int, raw []byte) string {
	var e struct {
		ID string `json:"id"`
	}
	if json.Unmarshal(raw, &e) == nil && e.ID != "" {
		return fmt.Sprintf("entry %d (%s)", i, e.ID)
	}
	return fmt.Sprintf("entry %d", i)
}

// Sources of a loaded key: the store, keys.db; the keys file,
// auth.keys_file; or both.
const (
	FromStore = "store"
	FromFile  = "file"
	FromBoth  = "both"
)

// Loaded is a key as the gateway holds it, with where it was found.
type Loaded struct {
	Key
	// Source is FromStore, FromFile or FromBoth.
	Source string `json:"source"`
}

// Merge joins the keys of the store and of the keys file into one record
// per key (by hash), oldest first. A revocation or an expiry wins wherever
// it is found: a key in both is revoked if either record says so, at the
// earlier time, and expires at the earlier expiry; the store's record
// gives the rest. stale holds the ids of keys that the store has revoked
// and the file still lists as valid: the file was exported before the
// revocation.
func Merge(store, file []Key) (all []Loaded, stale []string) {
	at := make(map[string]int, len(store)+len(file))
	add := func(k Key, src string) {
		h := strings.ToLower(k.Hash)
		i, ok := at[h]
		if !ok {
			at[h] = len(all)
			all = append(all, Loaded{Key: k, Source: src})
			return
		}
		l := &all[i]
		if l.Source == FromStore && src == FromFile {
			if l.Revoked != nil && k.Revoked == nil {
				stale = append(stale, l.ID)
			}
			l.Source = FromBoth
		}
		l.Revoked = earlier(l.Revoked, k.Revoked)
		l.Expires = earlier(l.Expires, k.Expires)
	}
	for _, k := range store {
		add(k, FromStore)
	}
	for _, k := range file {
		add(k, FromFile)
	}
	slices.SortStableFunc(all, func(a, b Loaded) int { return a.Created.Compare(b.Created) })
	return all, stale
}

func earlier(a, b *time.Time) *time.Time {
	if a == nil || b != nil && b.Before(*a) {
		return b
	}
	return a
}
