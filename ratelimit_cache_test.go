package tollgate_test

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/providers/providertest"
)

// limited is a config whose pipeline is ratelimit (with config rl), then
// call and track.
func limited(url, rl string) string {
	return providersYAML(url) + "pipeline:\n  - {name: ratelimit, kind: builtin, config: " + rl + "}\n" +
		"  - {name: call, kind: builtin}\n" + trackYAML
}

func TestRateLimitRequests(t *testing.T) {
	up := providertest.NewServer(t)
	s := newStack(t, limited(up.URL, "{requests_per_minute: 2}"))
	for i := range 2 {
		if r := s.do(t, chat("hi")); r.status != 200 {
			t.Fatalf("call %d: %d %s", i, r.status, r.body)
		}
	}
	r := s.do(t, chat("hi"))
	if r.status != 429 {
		t.Fatalf("third call: %d %s", r.status, r.body)
	}
	for name, want := range map[string]string{"X-Ratelimit-Limit-Requests": "2", "X-Ratelimit-Remaining-Requests": "0"} {
		if got := r.header.Get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if r.header.Get("Retry-After") == "" || r.header.Get("X-Ratelimit-Reset-Requests") == "" {
		t.Errorf("no Retry-After or reset header: %v", r.header)
	}
	if !strings.Contains(r.body, `"type":"rate_limit_error"`) && !strings.Contains(r.body, `"code":"rate_limit_exceeded"`) {
		t.Errorf("not in OpenAI's error shape: %s", r.body)
	}
	if !strings.Contains(r.body, `customer \"acme\": 2 requests per 1m0s`) {
		t.Errorf("message does not say which limit: %s", r.body)
	}
	// Another customer has its own limit.
	if r := s.do(t, chat("hi"), "X-Tollgate-Customer", "globex"); r.status != 200 {
		t.Errorf("another customer: %d", r.status)
	}
	if n := len(up.Requests()); n != 3 {
		t.Errorf("upstream calls %d, want 3", n)
	}
	evs := s.events(t)
	if evs[2].Status != core.StatusRateLimited || evs[2].HTTPStatus != 429 {
		t.Errorf("refused call's event: %+v", evs[2])
	}
}

func TestRateLimitTokensReconcileWithUsage(t *testing.T) {
	up := providertest.NewServer(t)
	// Each call is estimated at ~1030 tokens (its body, plus max_tokens
	// 1000) but uses ~20. Without reconciling, the second call would not fit
	// in 1500.
	s := newStack(t, limited(up.URL, "{tokens_per_minute: 1500}"))
	body := chat("how many tokens", `,"max_tokens":1000`)
	for i := range 3 {
		if r := s.do(t, body); r.status != 200 {
			t.Fatalf("call %d: %d %s", i, r.status, r.body)
		}
	}
	// A call that asks for more than is left is refused.
	r := s.do(t, chat("greedy", `,"max_tokens":1490`))
	if r.status != 429 || r.header.Get("X-Ratelimit-Limit-Tokens") != "1500" || !strings.Contains(r.body, "tokens per 1m0s") {
		t.Fatalf("greedy call: %d %v %s", r.status, r.header, r.body)
	}
}

// TestRateLimitStreamCutShortReconcilesToItsUsage: a stream the upstream
// cuts short is reconciled to the usage its event records (the chunks
// that passed), not left at the estimate taken before it.
func TestRateLimitStreamCutShortReconcilesToItsUsage(t *testing.T) {
	up := providertest.NewServer(t)
	s := newStack(t, limited(up.URL, "{tokens_per_minute: 1500}"))
	up.Inject(providertest.Fault{CutAfter: 4})
	// Estimated at ~1030 (its body, plus max_tokens 1000).
	if r := s.do(t, chat("one two three", `,"stream":true,"max_tokens":1000`)); r.status != 200 || !r.aborted {
		t.Fatalf("stream: %d aborted %v %s", r.status, r.aborted, r.body)
	}
	// 1500 less the 4 tokens recorded leaves room for another ~1030; the
	// estimate kept would leave ~470.
	if r := s.do(t, chat("again", `,"max_tokens":1000`)); r.status != 200 {
		t.Fatalf("the call after the cut stream: %d %s", r.status, r.body)
	}
	// The event records the 4 chunks and the prompt's estimate, 11 tokens
	// ("one two three", 13 bytes: 4, its message 4, the reply 3).
	if evs := s.events(t); len(evs) != 2 || evs[0].Status != core.StatusUpstreamError || evs[0].InputTokens != 11 || evs[0].TotalTokens != 15 || !evs[0].UsageEstimated {
		t.Errorf("events %+v; want the cut stream's first, an upstream error of 15 estimated tokens", evs)
	}
}

func TestRateLimitConcurrentStreams(t *testing.T) {
	up := providertest.NewServer(t, providertest.WithChunkDelay(80*time.Millisecond))
	s := newStack(t, limited(up.URL, "{concurrent: 1}"))
	started := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		close(started)
		if r := s.do(t, chat("one two three four five six", `,"stream":true`)); r.status != 200 {
			t.Errorf("stream: %d", r.status)
		}
	}()
	<-started
	deadline := time.Now().Add(5 * time.Second)
	for len(up.Requests()) == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	r := s.do(t, chat("second"))
	if r.status != 429 || r.header.Get("X-Ratelimit-Limit-Concurrent") != "1" {
		t.Errorf("second call while the stream runs: %d %v %s", r.status, r.header, r.body)
	}
	wg.Wait()
	if r := s.do(t, chat("third")); r.status != 200 {
		t.Errorf("after the stream ended the slot is free again, got %d %s", r.status, r.body)
	}
}

func TestRateLimitByMetadata(t *testing.T) {
	up := providertest.NewServer(t)
	s := newStack(t, limited(up.URL, "{limits: [{key: metadata.team, requests: 1, window: 1h}]}"))
	steps := []struct {
		team string
		want int
	}{{"ml", 200}, {"ml", 429}, {"web", 200}, {"", 200}, {"", 200}}
	for i, st := range steps {
		var h []string
		if st.team != "" {
			h = []string{"X-Tollgate-Meta-Team", st.team}
		}
		if r := s.do(t, chat("hi"), h...); r.status != st.want {
			t.Errorf("step %d (team %q): %d, want %d: %s", i, st.team, r.status, st.want, r.body)
		}
	}
}

// cached is a config whose pipeline is cache (with config c), call, track.
func cached(url, c string) string {
	return providersYAML(url) + "pipeline:\n  - {name: cache, kind: builtin, config: " + c + "}\n" +
		"  - {name: call, kind: builtin}\n" + trackYAML
}

func TestCacheHit(t *testing.T) {
	up := providertest.NewServer(t, providertest.WithEcho())
	s := newStack(t, cached(up.URL, "{ttl: 5m}"))
	first := s.do(t, chat("cache me"))
	second := s.do(t, `{"messages":[{"role":"user","content":"cache me"}],"user":"someone","model":"gpt-4o-mini"}`)
	if first.status != 200 || first.header.Get("X-Tollgate-Cache") != "miss" {
		t.Fatalf("first: %d %v", first.status, first.header)
	}
	if second.status != 200 || second.header.Get("X-Tollgate-Cache") != "hit" || second.body != first.body {
		t.Fatalf("second (same request, fields reordered, user added): %d %v\n%s\n%s", second.status, second.header, second.body, first.body)
	}
	if n := len(up.Requests()); n != 1 {
		t.Errorf("upstream calls %d, want 1", n)
	}
	evs := s.events(t)
	want, _ := up.ExpectedUsage([]byte(chat("cache me")))
	if evs[0].CacheHit || evs[0].TotalTokens != int64(want.TotalTokens) {
		t.Errorf("miss event %+v", evs[0])
	}
	hit := evs[1]
	if !hit.CacheHit || hit.TotalTokens != 0 || hit.Saved == nil || hit.Saved.TotalTokens != int64(want.TotalTokens) {
		t.Errorf("hit event: cache_hit %v tokens %d saved %+v, want the saved tokens %d", hit.CacheHit, hit.TotalTokens, hit.Saved, want.TotalTokens)
	}
}

func TestCacheKeysAndOptOut(t *testing.T) {
	tests := []struct {
		name     string
		config   string
		second   string
		header   []string
		wantHit  bool
		wantUpst int
	}{
		{"another customer misses by default", "{}", chat("q"), []string{"X-Tollgate-Customer", "globex"}, false, 2},
		{"global scope shares across customers", "{scope: global}", chat("q"), []string{"X-Tollgate-Customer", "globex"}, true, 1},
		{"another temperature misses", "{}", chat("q", `,"temperature":0.5`), nil, false, 2},
		{"a streamed request misses a whole answer", "{}", chat("q", `,"stream":true`), nil, false, 2},
		{"no-cache skips the lookup", "{}", chat("q"), []string{"Cache-Control", "no-cache"}, false, 2},
		{"no-store skips the lookup", "{}", chat("q"), []string{"Cache-Control", "no-store"}, false, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := providertest.NewServer(t)
			s := newStack(t, cached(up.URL, tt.config))
			s.do(t, chat("q"))
			r := s.do(t, tt.second, tt.header...)
			if hit := r.header.Get("X-Tollgate-Cache") == "hit"; hit != tt.wantHit || r.status != 200 {
				t.Errorf("second call: %d cache %q, want hit %v", r.status, r.header.Get("X-Tollgate-Cache"), tt.wantHit)
			}
			if n := len(up.Requests()); n != tt.wantUpst {
				t.Errorf("upstream calls %d, want %d", n, tt.wantUpst)
			}
		})
	}
}

func TestCacheNoStoreStoresNothing(t *testing.T) {
	up := providertest.NewServer(t)
	s := newStack(t, cached(up.URL, "{}"))
	s.do(t, chat("q"), "Cache-Control", "no-store")
	if r := s.do(t, chat("q")); r.header.Get("X-Tollgate-Cache") != "miss" {
		t.Errorf("an answer to a no-store request was cached")
	}
	if r := s.do(t, chat("q")); r.header.Get("X-Tollgate-Cache") != "hit" {
		t.Errorf("a plain answer was not cached")
	}
}

func TestCacheReplaysStreams(t *testing.T) {
	up := providertest.NewServer(t)
	s := newStack(t, cached(up.URL, "{}"))
	body := chat("stream me", `,"stream":true,"stream_options":{"include_usage":true}`)
	first := s.do(t, body)
	second := s.do(t, body)
	if second.header.Get("X-Tollgate-Cache") != "hit" || !strings.HasPrefix(second.header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("second: %v", second.header)
	}
	if first.body != second.body || !strings.Contains(second.body, "[DONE]") {
		t.Fatalf("replay differs:\n%s\n---\n%s", first.body, second.body)
	}
	// A client that did not ask for usage does not get the usage chunk the
	// gateway asked for, even replayed.
	third := s.do(t, chat("stream me", `,"stream":true`))
	if third.header.Get("X-Tollgate-Cache") != "hit" || strings.Contains(third.body, `"usage":{`) {
		t.Errorf("third: %v\n%s", third.header, third.body)
	}
	if n := len(up.Requests()); n != 1 {
		t.Errorf("upstream calls %d, want 1", n)
	}
	evs := s.events(t)
	want, _ := up.ExpectedUsage([]byte(body))
	for i, ev := range evs[1:] {
		if !ev.CacheHit || !ev.Stream || ev.Saved == nil || ev.Saved.TotalTokens != int64(want.TotalTokens) || ev.Status != core.StatusOK {
			t.Errorf("hit %d: %+v saved %+v", i, ev, ev.Saved)
		}
	}
}

func TestCacheHitRefundsRateLimitTokens(t *testing.T) {
	up := providertest.NewServer(t)
	s := newStack(t, providersYAML(up.URL)+"pipeline:\n"+
		"  - {name: ratelimit, kind: builtin, config: {tokens_per_minute: 2500}}\n"+
		"  - {name: cache, kind: builtin}\n  - {name: call, kind: builtin}\n"+trackYAML)
	body := chat("same", `,"max_tokens":1000`)
	for i := range 5 { // 5 estimates of ~1030 would not fit; hits cost nothing
		if r := s.do(t, body); r.status != 200 {
			t.Fatalf("call %d: %d %s", i, r.status, r.body)
		}
	}
}
