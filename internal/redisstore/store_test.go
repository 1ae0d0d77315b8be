package redisstore_test

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/internal/redisstore"
	"github.com/tollgate-dev/tollgate/internal/redistest"
)

func open(t *testing.T, srv *redistest.Server) *redisstore.Store {
	t.Helper()
	s, err := redisstore.Open(redisstore.Options{Addr: srv.Addr, KeyPrefix: "t:", Timeout: 200 * time.Millisecond,
		DownFor: 50 * time.Millisecond}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestTakeChargesAllOrNothing(t *testing.T) {
	s := open(t, redistest.Start(t))
	ctx := context.Background()
	reqs := redisstore.Bucket{Key: s.Key("r"), Limit: 3, Window: time.Hour, Cost: 1}
	toks := redisstore.Bucket{Key: s.Key("t"), Limit: 100, Window: time.Hour, Cost: 40}
	for i, want := range []bool{true, true, false, false} {
		d, err := s.Take(ctx, "h", []redisstore.Bucket{reqs, toks}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if d.Allowed != want {
			t.Fatalf("take %d: allowed %v, want %v (%+v)", i, d.Allowed, want, d)
		}
		if !want && (d.Denied != 1 || d.RetryAfter <= 0) {
			t.Errorf("take %d: want the token bucket to refuse with a retry-after, got %+v", i, d)
		}
	}
	// Refund 80 tokens: two more calls fit, and the request bucket (3)
	// then stops the fourth.
	if err := s.Finish(ctx, "h", []redisstore.Bucket{{Key: toks.Key, Limit: 100, Window: time.Hour, Cost: -80}}, nil); err != nil {
		t.Fatal(err)
	}
	d, _ := s.Take(ctx, "h", []redisstore.Bucket{reqs, toks}, nil)
	if !d.Allowed || d.Remaining[0] != 0 {
		t.Fatalf("after refund: %+v", d)
	}
	d, _ = s.Take(ctx, "h", []redisstore.Bucket{reqs, toks}, nil)
	if d.Allowed || d.Denied != 0 {
		t.Fatalf("request bucket should refuse: %+v", d)
	}
}

func TestLeases(t *testing.T) {
	s := open(t, redistest.Start(t))
	ctx := context.Background()
	leases := []redisstore.Lease{{Key: s.Key("c"), Limit: 2, TTL: time.Minute}}
	for i, want := range []bool{true, true, false} {
		d, err := s.Take(ctx, string(rune('a'+i)), nil, leases)
		if err != nil || d.Allowed != want {
			t.Fatalf("lease %d: %+v %v", i, d, err)
		}
	}
	if err := s.Finish(ctx, "a", nil, leases); err != nil {
		t.Fatal(err)
	}
	if d, _ := s.Take(ctx, "d", nil, leases); !d.Allowed {
		t.Fatalf("after release: %+v", d)
	}
	if d, _ := s.Take(ctx, "e", nil, leases); d.Allowed || d.Denied != 0 {
		t.Fatalf("third lease: %+v", d)
	}
}

func TestSpendCountsEachEventOnce(t *testing.T) {
	s := open(t, redistest.Start(t))
	ctx := context.Background()
	at := time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)
	cost := core.USD(1500)
	evs := []*core.UsageEvent{
		{ID: "e1", CustomerID: "acme", Timestamp: at, InputTokens: 10, OutputTokens: 5, TotalTokens: 15, Status: core.StatusOK, Cost: &cost},
		{ID: "e2", CustomerID: "acme", Timestamp: at.AddDate(0, 0, -1), InputTokens: 1, TotalTokens: 1, Status: core.StatusUpstreamError},
	}
	for range 2 { // a redelivery counts nothing
		if err := s.AddSpend(ctx, evs); err != nil {
			t.Fatal(err)
		}
	}
	day, month, err := s.Spend(ctx, "acme", at)
	if err != nil {
		t.Fatal(err)
	}
	if day.Requests != 1 || day.TotalTokens != 15 || day.Cost != 1500 || month.Requests != 2 || month.TotalTokens != 16 ||
		month.Errors != 1 || month.Unpriced != 1 {
		t.Errorf("day %+v month %+v", day, month)
	}
}

func TestDownFailsFastAndRecovers(t *testing.T) {
	srv := redistest.Start(t)
	s := open(t, srv)
	ctx := context.Background()
	if err := s.Set(ctx, s.Key("k"), []byte("v"), time.Minute); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	_, _, err := s.Get(ctx, s.Key("k"))
	if !errors.Is(err, redisstore.ErrDown) {
		t.Fatalf("get with redis stopped: %v", err)
	}
	if _, _, err := s.Get(ctx, s.Key("k")); !errors.Is(err, redisstore.ErrDown) {
		t.Fatalf("second get: %v", err)
	}
	srv.Restart()
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, ok, err := s.Get(ctx, s.Key("k"))
		if err == nil {
			if ok {
				t.Error("the restarted server kept data; persistence should be off")
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("store did not recover: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
