package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/tracking"
)

type fakeBreaker struct{ state string }

func (b *fakeBreaker) State(string) string { return b.state }

func TestAlertsAreSentOnceAndRateLimited(t *testing.T) {
	var mu sync.Mutex
	var got []Alert
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var a Alert
		json.NewDecoder(r.Body).Decode(&a)
		mu.Lock()
		got = append(got, a)
		mu.Unlock()
	}))
	defer srv.Close()
	n := newNotifier(srv.URL, time.Minute, 100, slog.New(slog.DiscardHandler))
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	n.now = func() time.Time { return clock }
	br := &fakeBreaker{state: "closed"}
	parts := []core.Part{{Name: "breaker", Value: br}}
	stats := &tracking.Stats{Sinks: []tracking.SinkStats{{Name: "billing", Queued: 5}}}
	kinds := func() map[string]int {
		mu.Lock()
		defer mu.Unlock()
		m := map[string]int{}
		for _, a := range got {
			m[a.Kind]++
		}
		return m
	}
	ctx := context.Background()

	n.check(ctx, parts, []string{"openai"}, stats) // all well
	br.state = "open"
	stats.Sinks[0].Queued, stats.Sinks[0].DeadLetters = 150, 2
	n.check(ctx, parts, []string{"openai"}, stats)
	if k := kinds(); k["breaker_opened"] != 1 || k["outbox_backlog"] != 1 || k["dead_letters"] != 1 {
		t.Fatalf("alerts %v", k)
	}
	// The breaker flaps and the backlog stays: nothing more within the minute.
	for range 5 {
		br.state = "closed"
		n.check(ctx, parts, []string{"openai"}, stats)
		br.state = "open"
		n.check(ctx, parts, []string{"openai"}, stats)
	}
	if k := kinds(); k["breaker_opened"] != 1 || k["outbox_backlog"] != 1 {
		t.Fatalf("rate limit broken: %v", k)
	}
	// A minute later one more of each, counting what was held back.
	clock = clock.Add(time.Minute)
	br.state = "closed"
	n.check(ctx, parts, []string{"openai"}, stats)
	br.state = "open"
	n.check(ctx, parts, []string{"openai"}, stats)
	k := kinds()
	if k["breaker_opened"] != 2 || k["outbox_backlog"] != 2 || k["dead_letters"] != 1 {
		t.Fatalf("after the interval: %v", k)
	}
	mu.Lock()
	defer mu.Unlock()
	last := got[len(got)-1]
	if last.Kind == "breaker_opened" && last.Suppressed == 0 {
		t.Errorf("suppressed count missing: %+v", last)
	}
}
