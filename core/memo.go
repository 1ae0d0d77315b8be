package core

import "sync/atomic"

// Memo remembers the value it last built from a key. Every call to one
// upstream shares its URL path and its credential header; a Memo builds them
// once instead of per call (two allocations each). A key that differs from
// the last one is built again and replaces it, so a Memo never grows. Safe
// for concurrent use; a value it returns is shared and must not be
// modified.
type Memo[T any] struct{ last atomic.Pointer[memoEntry[T]] }

type memoEntry[T any] struct {
	key   string
	value T
}

// Get returns build(key), from memory when key is the last key seen.
func (m *Memo[T]) Get(key string, build func(string) T) T {
	if e := m.last.Load(); e != nil && e.key == key {
		return e.value
	}
	v := build(key)
	m.last.Store(&memoEntry[T]{key: key, value: v})
	return v
}

// HeaderValue is a one-value header slice for a Memo to share: capped, so
// that an append to it copies rather than writes into the shared array.
func HeaderValue(v string) []string { return []string{v}[:1:1] }
