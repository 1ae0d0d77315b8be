package tollgate_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/internal/redisstore"
	"github.com/tollgate-dev/tollgate/internal/redistest"
	"github.com/tollgate-dev/tollgate/providers/providertest"
)

// redisYAML is a redis section for srv. The deadlines are long enough
// for a loaded CI machine: a test that stops Redis sees connections
// refused at once, not timeouts.
func redisYAML(srv *redistest.Server) string {
	return "redis: {addr: " + srv.Addr + ", timeout: 2s, dial_timeout: 2s, down_for: 100ms}\n"
}

func TestReplicasShareOneRateLimit(t *testing.T) {
	srv := redistest.Start(t)
	up := providertest.NewServer(t)
	cfg := redisYAML(srv) + limited(up.URL, "{requests_per_minute: 4, tokens_per_minute: 100000}")
	a, b := newStack(t, cfg), newStack(t, cfg)
	var mu sync.Mutex
	codes := map[int]int{}
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := a
			if i%2 == 1 {
				s = b
			}
			r := s.do(t, chat("shared"))
			mu.Lock()
			codes[r.status]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if codes[200] != 4 || codes[429] != 6 {
		t.Errorf("two replicas let %d calls through and refused %d, want 4 and 6 (one shared limit)", codes[200], codes[429])
	}
	if n := len(up.Requests()); n != 4 {
		t.Errorf("upstream calls %d, want 4", n)
	}
}

func TestReplicasShareOneCache(t *testing.T) {
	srv := redistest.Start(t)
	up := providertest.NewServer(t)
	cfg := redisYAML(srv) + cached(up.URL, "{ttl: 1m}")
	a, b := newStack(t, cfg), newStack(t, cfg)
	for _, body := range []string{chat("replicated"), chat("replicated", `,"stream":true`)} {
		first := a.do(t, body)
		second := b.do(t, body)
		if first.header.Get("X-Tollgate-Cache") != "miss" || second.header.Get("X-Tollgate-Cache") != "hit" || first.body != second.body {
			t.Errorf("replica b did not hit replica a's answer: %v %v\n%s\n%s", first.header, second.header, first.body, second.body)
		}
		// The front keeps b's copy: a third call needs no Redis round trip.
		if third := b.do(t, body); third.header.Get("X-Tollgate-Cache") != "hit" {
			t.Errorf("third: %v", third.header)
		}
	}
	if n := len(up.Requests()); n != 2 {
		t.Errorf("upstream calls %d, want 2", n)
	}
}

func TestRedisDownFailsOpenOrClosed(t *testing.T) {
	srv := redistest.Start(t)
	up := providertest.NewServer(t)
	open := newStack(t, redisYAML(srv)+providersYAML(up.URL)+"pipeline:\n"+
		"  - {name: ratelimit, kind: builtin, config: {requests_per_minute: 1000}}\n"+
		"  - {name: cache, kind: builtin}\n  - {name: call, kind: builtin}\n"+trackYAML)
	closed := newStack(t, redisYAML(srv)+providersYAML(up.URL)+"pipeline:\n"+
		"  - {name: ratelimit, kind: builtin, on_error: fail_closed, config: {requests_per_minute: 1000}}\n"+
		"  - {name: call, kind: builtin}\n"+trackYAML)
	if r := open.do(t, chat("before")); r.status != 200 {
		t.Fatalf("with redis up: %d %s", r.status, r.body)
	}
	srv.Stop()
	for i := range 3 {
		r := open.do(t, chat("during"))
		if r.status != 200 || r.header.Get("X-Tollgate-Cache") != "miss" {
			t.Errorf("fail_open call %d with redis down: %d %v %s", i, r.status, r.header, r.body)
		}
		r = closed.do(t, chat("during"))
		if r.status != 503 || !strings.Contains(r.body, "unavailable") {
			t.Errorf("fail_closed call %d with redis down: %d %s", i, r.status, r.body)
		}
	}
	if !strings.Contains(open.logs.String(), "REDIS UNAVAILABLE") {
		t.Errorf("no loud warning:\n%s", open.logs)
	}
	srv.Restart()
	deadline := time.Now().Add(5 * time.Second)
	for {
		r := closed.do(t, chat("after"))
		if r.status == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no recovery after redis came back: %d %s", r.status, r.body)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestRedisSpendCounters(t *testing.T) {
	srv := redistest.Start(t)
	up := providertest.NewServer(t)
	s := newStack(t, redisYAML(srv)+providersYAML(up.URL)+"pipeline:\n  - {name: call, kind: builtin}\n"+trackYAML)
	s.do(t, chat("spend one"))
	s.do(t, chat("spend two"))
	s.close(t) // flushes the outbox to the sinks, redis_spend included
	store, err := redisstore.Open(redisstore.Options{Addr: srv.Addr, KeyPrefix: "tollgate:"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	day, month, err := store.Spend(context.Background(), "acme", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if day.Requests != 2 || month.Requests != 2 || day.TotalTokens == 0 {
		t.Errorf("day %+v month %+v", day, month)
	}
}
