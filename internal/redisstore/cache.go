package redisstore

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// Get returns the value at key; ok is false for a missing key.
func (s *Store) Get(ctx context.Context, key string) (v []byte, ok bool, err error) {
	ctx, cancel, err := s.begin(ctx)
	if err != nil {
		return nil, false, err
	}
	defer cancel()
	v, err = s.c.Get(ctx, key).Bytes()
	if errors.Is(err, redis.Nil) {
		s.ok()
		return nil, false, nil
	}
	if err != nil {
		return nil, false, s.fail(err)
	}
	s.ok()
	return v, true, nil
}

// Set stores v at key for ttl.
func (s *Store) Set(ctx context.Context, key string, v []byte, ttl time.Duration) error {
	ctx, cancel, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	if err := s.c.Set(ctx, key, v, ttl).Err(); err != nil {
		return s.fail(err)
	}
	s.ok()
	return nil
}
