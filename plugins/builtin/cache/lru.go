package cache

import (
	"sync"
	"time"
)

// memory is the in-process store: least recently used entries go first
// once the byte bound is reached, and an entry past its TTL is a miss.
//
// It replaced otter (W-TinyLFU) because every call that misses is stored,
// so a full cache evicts on every miss, and otter's eviction (a frequency
// sketch, write buffers drained by a maintenance goroutine) cost more than
// the rest of the cache stage together: docs/benchmarks.md, "Resilience".
// An answer cache has no scan to resist: a repeated call is the whole
// point, and recency finds it.
//
// Keys are uniformly random (maphash), so the low bits pick a shard; each
// shard has its own lock, list and share of the byte bound.
type memory struct {
	shards []lruShard
	mask   uint8
	ttl    time.Duration
}

type lruShard struct {
	mu    sync.Mutex
	items map[memKey]*lruNode
	head  lruNode // sentinel of a circular list: head.next is the most recent
	bytes int64
	max   int64
}

type lruNode struct {
	key        memKey
	e          *entry
	size       int64
	expires    time.Duration // on monotonic's clock
	prev, next *lruNode
}

// maxShards bounds the shards; newMemory uses fewer when the bound is
// small, so that a shard holds at least four of the largest entries.
const maxShards = 16

func newMemory(maxBytes, maxEntry int64, ttl time.Duration) *memory {
	n := 1
	for n < maxShards && maxBytes/int64(n*2) >= 4*maxEntry {
		n *= 2
	}
	m := &memory{shards: make([]lruShard, n), mask: uint8(n - 1), ttl: ttl}
	for i := range m.shards {
		s := &m.shards[i]
		s.items = map[memKey]*lruNode{}
		s.head.next, s.head.prev = &s.head, &s.head
		s.max = maxBytes / int64(n)
	}
	return m
}

func (m *memory) shard(k memKey) *lruShard { return &m.shards[k[0]&m.mask] }

func (m *memory) get(k memKey) (*entry, bool) {
	s := m.shard(k)
	now := monotonic()
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.items[k]
	if n == nil {
		return nil, false
	}
	if now >= n.expires {
		s.remove(n)
		return nil, false
	}
	s.unlink(n)
	s.pushFront(n)
	return n.e, true
}

// set stores e until the TTL passes, evicting the least recently used
// entries past the bound. An entry larger than a shard's bound is not kept.
func (m *memory) set(k memKey, e *entry) {
	s := m.shard(k)
	size, expires := int64(e.size()), monotonic()+m.ttl
	s.mu.Lock()
	defer s.mu.Unlock()
	if old := s.items[k]; old != nil {
		s.remove(old)
	}
	if size > s.max {
		return
	}
	n := &lruNode{key: k, e: e, size: size, expires: expires}
	s.items[k] = n
	s.pushFront(n)
	s.bytes += size
	for s.bytes > s.max {
		s.remove(s.head.prev)
	}
}

func (m *memory) close() {}

func (s *lruShard) remove(n *lruNode) {
	s.unlink(n)
	delete(s.items, n.key)
	s.bytes -= n.size
}

func (s *lruShard) unlink(n *lruNode) {
	n.prev.next, n.next.prev = n.next, n.prev
}

func (s *lruShard) pushFront(n *lruNode) {
	n.prev, n.next = &s.head, s.head.next
	s.head.next.prev = n
	s.head.next = n
}

// start anchors monotonic: time.Since reads the monotonic clock, which no
// change of the wall clock moves.
var start = time.Now()

func monotonic() time.Duration { return time.Since(start) }
