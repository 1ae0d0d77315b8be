package cache

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/pipeline"
)

// An entry answers until its TTL passes, then it is a miss and is dropped.
func TestMemoryEntryExpires(t *testing.T) {
	m := newMemory(1<<20, 1<<16, 30*time.Millisecond)
	defer m.close()
	k := memKey{1}
	m.set(k, &entry{status: 200, body: []byte("answer")})
	if e, ok := m.get(k); !ok || string(e.body) != "answer" {
		t.Fatalf("get before the TTL = %v, %v; want the entry", e, ok)
	}
	time.Sleep(60 * time.Millisecond)
	if _, ok := m.get(k); ok {
		t.Fatal("get after the TTL found the entry")
	}
	if s := m.shard(k); len(s.items) != 0 || s.bytes != 0 {
		t.Errorf("the expired entry was not dropped: %d items, %d bytes", len(s.items), s.bytes)
	}
}

// The least recently used entries go first once the byte bound is reached;
// a lookup makes an entry recent.
func TestMemoryEvictsLeastRecentlyUsed(t *testing.T) {
	body := make([]byte, 936) // weighs 1000 bytes with the entry's overhead
	m := newMemory(4000, 1000, time.Hour)
	if len(m.shards) != 1 {
		t.Fatalf("%d shards for a bound of four entries; want 1", len(m.shards))
	}
	key := func(i byte) memKey { return memKey{0, i} }
	for i := range byte(4) {
		m.set(key(i), &entry{body: body})
	}
	m.get(key(0)) // 1 is now the least recent
	m.set(key(4), &entry{body: body})
	for i, want := range []bool{true, false, true, true, true} {
		if _, ok := m.get(key(byte(i))); ok != want {
			t.Errorf("entry %d cached = %v, want %v", i, ok, want)
		}
	}
	if s := m.shard(key(0)); s.bytes != 4000 || len(s.items) != 4 {
		t.Errorf("shard holds %d bytes in %d items; want 4000 in 4", s.bytes, len(s.items))
	}
	// Storing a key again replaces its entry and its weight.
	m.set(key(0), &entry{body: body[:436]})
	if e, _ := m.get(key(0)); len(e.body) != 436 || m.shard(key(0)).bytes != 3500 {
		t.Errorf("after a replace: body %d bytes, shard %d bytes; want 436 and 3500", len(e.body), m.shard(key(0)).bytes)
	}
	// An entry over a shard's bound is not kept, and evicts nothing.
	m.set(key(9), &entry{body: make([]byte, 5000)})
	if _, ok := m.get(key(9)); ok || len(m.shard(key(0)).items) != 4 {
		t.Error("an entry over the bound was kept or evicted others")
	}
}

// Shards: as many as keep four of the largest entries each, at most 16;
// keys spread over them and the bound holds in all of them together.
func TestMemoryShards(t *testing.T) {
	for _, c := range []struct {
		max, entry int64
		want       int
	}{{64 << 20, 1 << 20, 16}, {8 << 20, 1 << 20, 2}, {1 << 20, 1 << 20, 1}, {1 << 30, 1 << 10, 16}} {
		if got := len(newMemory(c.max, c.entry, time.Hour).shards); got != c.want {
			t.Errorf("max_bytes %d, max_entry_bytes %d: %d shards, want %d", c.max, c.entry, got, c.want)
		}
	}
	m := newMemory(1<<20, 1<<12, time.Hour)
	body := make([]byte, 1000)
	for i := range 5000 {
		m.set(memKey{byte(i), byte(i >> 8), 7}, &entry{body: body})
	}
	var total int64
	for i := range m.shards {
		s := &m.shards[i]
		if len(s.items) == 0 || s.bytes > s.max {
			t.Errorf("shard %d: %d items, %d of %d bytes", i, len(s.items), s.bytes, s.max)
		}
		total += s.bytes
	}
	if total > 1<<20 {
		t.Errorf("%d bytes held; bound 1 MiB", total)
	}
}

// Concurrent stores and lookups keep every shard's list and byte count
// consistent (run with -race).
func TestMemoryConcurrent(t *testing.T) {
	m := newMemory(64<<10, 1<<10, time.Hour)
	body := make([]byte, 500)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 2000 {
				k := memKey{byte(i), byte(g)}
				m.set(k, &entry{body: body})
				m.get(memKey{byte(i / 2), byte(g)})
			}
		})
	}
	wg.Wait()
	for i := range m.shards {
		s := &m.shards[i]
		n, bytes := 0, int64(0)
		for p := s.head.next; p != &s.head; p = p.next {
			n++
			bytes += p.size
		}
		if n != len(s.items) || bytes != s.bytes || bytes > s.max {
			t.Errorf("shard %d: list %d items %d bytes, map %d items, count %d bytes, bound %d", i, n, bytes, len(s.items), s.bytes, s.max)
		}
	}
}

// Through the stage: a second call is a hit within the TTL and goes
// upstream again after it.
func TestStageTTL(t *testing.T) {
	c := benchCache(t, pipeline.Env{}, map[string]any{"ttl": "40ms"})
	calls := 0
	next := func(ctx context.Context, req *core.Request) (*core.Response, error) {
		calls++
		return upstreamAnswer(ctx, req)
	}
	for i, want := range []int{1, 1} {
		if _, err := c.Handle(context.Background(), benchRequest(), next); err != nil || calls != want {
			t.Fatalf("call %d: err %v, upstream calls %d; want %d", i+1, err, calls, want)
		}
	}
	time.Sleep(80 * time.Millisecond)
	if _, err := c.Handle(context.Background(), benchRequest(), next); err != nil || calls != 2 {
		t.Fatalf("after the TTL: err %v, upstream calls %d; want 2", err, calls)
	}
}

// clearAll empties the store, for benchmarks of a miss in the front.
func (m *memory) clearAll() {
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		clear(s.items)
		s.head.next, s.head.prev, s.bytes = &s.head, &s.head, 0
		s.mu.Unlock()
	}
}
