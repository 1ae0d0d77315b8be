package cache

import (
	"context"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/pipeline"
)

// An entry answers until its TTL passes, then it is a miss and is dropped.
func TestMemoryEntryExpires(t *testing.T) {
	m := newMemory(1<<20, 30*time.Millisecond)
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
	if _, ok := m.c.GetIfPresent(k); ok {
		t.Error("the expired entry was not dropped")
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
