package cache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"time"

	"github.com/tollgate-dev/tollgate/internal/redisstore"
)

// shared is the Redis backend with an in-memory front: a hit in the front
// costs no round trip; a hit in Redis fills the front.
type shared struct {
	store *redisstore.Store
	front *memory
	ttl   time.Duration
}

// redisKey is the Redis key of a call's SHA-256 key.
func (s *shared) redisKey(sha *[sha256.Size]byte) string {
	return s.store.Key("cache", hex.EncodeToString(sha[:]))
}

// get looks in the front, then in Redis under the SHA-256 key sha computes.
func (s *shared) get(ctx context.Context, k memKey, sha func() *[sha256.Size]byte) (*entry, bool, error) {
	if e, ok := s.front.get(k); ok {
		return e, true, nil
	}
	b, ok, err := s.store.Get(ctx, s.redisKey(sha()))
	if err != nil || !ok {
		return nil, false, err
	}
	e, err := decode(b)
	if err != nil {
		return nil, false, nil // an entry of another version is a miss
	}
	s.front.set(k, e)
	return e, true, nil
}

// set stores in both.
func (s *shared) set(ctx context.Context, k memKey, sha *[sha256.Size]byte, e *entry) error {
	s.front.set(k, e)
	return s.store.Set(ctx, s.redisKey(sha), e.encode(), s.ttl)
}
