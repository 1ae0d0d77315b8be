// Package keys holds tollgate's virtual keys: the credentials clients
// present to the gateway in place of provider keys. A key is shown once,
// when it is created; the store keeps only its SHA-256, with the customer
// or team it belongs to, the models it may call, its limits and metadata.
// The store is an embedded bbolt file, keys.db, in the data directory (the
// same store library as the usage outbox); the gateway reads it into memory
// and re-reads it when it changes, so `tollgate keys create` and `revoke`
// take effect on a running gateway within auth.refresh_interval.
package keys

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/core"
)

// Prefix starts every tollgate key, so that a key found in a log or a
// repository is recognisable (and redactable) as one.
const Prefix = "tg-"

// Errors.
var (
	// ErrNotFound is returned for a key id that the store does not hold.
	ErrNotFound = errors.New("keys: no such key")
)

// Key is one virtual key as stored: never the key itself.
type Key struct {
	// ID is the key's public id, e.g. key_3f9a1c2b7d4e.
	ID string `json:"id"`
	// Name is a label for people.
	Name string `json:"name,omitempty"`
	// Hint is the key's first characters, to tell keys apart in a list.
	Hint string `json:"hint"`
	// Hash is the hex SHA-256 of the key.
	Hash     string            `json:"hash"`
	Customer string            `json:"customer,omitempty"`
	Team     string            `json:"team,omitempty"`
	Models   []string          `json:"models,omitempty"`
	Limits   core.Limits       `json:"limits"`
	Metadata map[string]string `json:"metadata,omitempty"`
	Created  time.Time         `json:"created"`
	// Revoked is when the key was revoked; nil while it is valid.
	Revoked *time.Time `json:"revoked,omitempty"`
	// Expires, if set, is when the key stops working.
	Expires *time.Time `json:"expires,omitempty"`
}

// Principal is the identity the key gives its calls.
//
// The usage events of the key's calls carry its metadata, its team as
// metadata team, and its id as metadata key_id (what a ratelimit stage keyed
// by metadata.key_id limits per key).
func (k *Key) Principal() *core.Principal {
	md := make(map[string]string, len(k.Metadata)+2)
	for a, b := range k.Metadata {
		md[a] = b
	}
	if k.Team != "" {
		md["team"] = k.Team
	}
	md["key_id"] = k.ID
	return &core.Principal{KeyID: k.ID, Name: k.Name, Customer: k.Customer, Team: k.Team, Models: k.Models,
		Limits: k.Limits, Metadata: md}
}

// HasLimits reports whether the key carries any limit of its own.
func (k *Key) HasLimits() bool { return k.Limits != (core.Limits{}) }

// Valid reports whether the key works at t.
func (k *Key) Valid(t time.Time) bool {
	return k.Revoked == nil && (k.Expires == nil || t.Before(*k.Expires))
}

// State is "active", "revoked" or "expired" at t.
func (k *Key) State(t time.Time) string {
	switch {
	case k.Revoked != nil:
		return "revoked"
	case k.Expires != nil && !t.Before(*k.Expires):
		return "expired"
	}
	return "active"
}

// generate returns a new key and its id: 32 random bytes (256 bits), so a
// key cannot be guessed and one SHA-256 round is enough to store it.
func generate() (secret, id string, err error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", "", err
	}
	var idb [6]byte
	if _, err := rand.Read(idb[:]); err != nil {
		return "", "", err
	}
	return Prefix + base64.RawURLEncoding.EncodeToString(b[:]), "key_" + hex.EncodeToString(idb[:]), nil
}

// Hash returns the SHA-256 of a key.
func Hash(secret string) [32]byte { return sha256.Sum256([]byte(secret)) }

// hint is what a list shows of a key: its prefix and first characters.
func hint(secret string) string {
	if len(secret) < len(Prefix)+4 {
		return Prefix + "…"
	}
	return secret[:len(Prefix)+4] + "…"
}

// LooksLikeKey reports whether s has the shape of a tollgate key.
func LooksLikeKey(s string) bool { return strings.HasPrefix(s, Prefix) && len(s) == len(Prefix)+43 }
