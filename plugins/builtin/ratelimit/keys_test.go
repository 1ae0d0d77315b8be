package ratelimit

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/internal/redisstore"
	"github.com/tollgate-dev/tollgate/internal/redistest"
	"github.com/tollgate-dev/tollgate/pipeline"
	"github.com/tollgate-dev/tollgate/providers/openai"
	"github.com/tollgate-dev/tollgate/tracking"
)

// backends are the two places limits live: this process, or a real
// redis-server shared by replicas.
var backends = []struct {
	name string
	env  func(t *testing.T) pipeline.Env
}{
	{"memory", func(*testing.T) pipeline.Env { return pipeline.Env{} }},
	{"redis", func(t *testing.T) pipeline.Env {
		srv := redistest.Start(t)
		return pipeline.Env{Redis: &redisstore.Options{Addr: srv.Addr, KeyPrefix: "t:"}}
	}},
}

// newLimiter builds the stage from config over env.
func newLimiter(t *testing.T, config map[string]any, env pipeline.Env, onError string) *RateLimit {
	t.Helper()
	env.Log = slog.New(slog.DiscardHandler)
	s, err := newStage(pipeline.Spec{Name: "ratelimit", Kind: "builtin", Config: config, OnError: onError}, env)
	if err != nil {
		t.Fatal(err)
	}
	rl := s.(*RateLimit)
	t.Cleanup(func() { rl.Close(context.Background()) })
	return rl
}

// keyCall is a chat call made with a virtual key (nil for none).
func keyCall(id string, p *core.Principal, body string) *core.Request {
	req := &core.Request{ID: id, Method: http.MethodPost, Format: openai.New(), Operation: "chat.completions",
		Body: []byte(body), Customer: "acme", Principal: p}
	if p != nil && p.Customer != "" {
		req.Customer = p.Customer
	}
	return req
}

// used answers with a known usage of n tokens.
func used(n int64) core.HandlerFunc {
	return func(context.Context, *core.Request) (*core.Response, error) {
		return &core.Response{Status: 200, Usage: core.Usage{InputTokens: n / 2, OutputTokens: n - n/2}, UsageKnown: true}, nil
	}
}

func TestKeyRequestsPerMinute(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			// A configured limit far above the key's: the key's own applies
			// on top of it.
			rl := newLimiter(t, map[string]any{"requests_per_minute": 100}, be.env(t), "")
			a := &core.Principal{KeyID: "key_a", Customer: "acme", Limits: core.Limits{RequestsPerMinute: 2}}
			b := &core.Principal{KeyID: "key_b", Customer: "acme", Limits: core.Limits{RequestsPerMinute: 2}}
			ctx := context.Background()
			for i := range 2 {
				if _, err := rl.Handle(ctx, keyCall("a", a, `{}`), ok); err != nil {
					t.Fatalf("call %d with key_a: %v", i+1, err)
				}
			}
			_, err := rl.Handle(ctx, keyCall("a3", a, `{}`), ok)
			var e *core.Error
			if !errors.As(err, &e) || e.Kind != core.KindRateLimit || e.HTTPStatus() != 429 {
				t.Fatalf("third call with key_a: %v, want a 429", err)
			}
			if !strings.Contains(e.Message, "API key key_a: 2 requests per 1m0s") {
				t.Errorf("message does not name the key's limit: %s", e.Message)
			}
			if e.Header.Get("X-Ratelimit-Limit-Requests") != "2" || e.Header.Get("X-Ratelimit-Remaining-Requests") != "0" ||
				e.Header.Get("Retry-After") == "" {
				t.Errorf("headers %v", e.Header)
			}
			// Another key of the same customer has its own count, and a
			// call without a key only the configured limit.
			if _, err := rl.Handle(ctx, keyCall("b", b, `{}`), ok); err != nil {
				t.Errorf("key_b: %v", err)
			}
			for i := range 3 {
				if _, err := rl.Handle(ctx, keyCall("n", nil, `{}`), ok); err != nil {
					t.Errorf("call %d without a key: %v", i+1, err)
				}
			}
		})
	}
}

func TestKeyTokensPerMinute(t *testing.T) {
	for _, be := range backends {
		t.Run(be.name, func(t *testing.T) {
			rl := newLimiter(t, nil, be.env(t), "")
			p := &core.Principal{KeyID: "key_t", Customer: "acme", Limits: core.Limits{TokensPerMinute: 1000}}
			body := `{"model":"gpt-4o-mini","max_tokens":600,"messages":[]}`
			est := estimate(keyCall("x", p, body), 1024)
			ctx := context.Background()
			// Each call is charged its estimate (~615) and reconciled to the
			// 240 it used: two fit, the third does not.
			for i := range 2 {
				if _, err := rl.Handle(ctx, keyCall("t", p, body), used(240)); err != nil {
					t.Fatalf("call %d (estimate %d): %v", i+1, est, err)
				}
			}
			_, err := rl.Handle(ctx, keyCall("t3", p, body), used(240))
			var e *core.Error
			if !errors.As(err, &e) || e.HTTPStatus() != 429 || e.Header.Get("X-Ratelimit-Limit-Tokens") != "1000" ||
				!strings.Contains(e.Message, "API key key_t: 1000 tokens per 1m0s") {
				t.Fatalf("third call: %v %v", err, e.Header)
			}
		})
	}
}

func TestKeyLimitsOff(t *testing.T) {
	rl := newLimiter(t, map[string]any{"key_limits": false, "requests_per_minute": 100}, pipeline.Env{}, "")
	if rl.EnforcesKeyLimits() {
		t.Error("EnforcesKeyLimits with key_limits: false")
	}
	p := &core.Principal{KeyID: "key_a", Limits: core.Limits{RequestsPerMinute: 1, MonthlyBudget: 1}}
	for i := range 3 {
		if _, err := rl.Handle(context.Background(), keyCall("a", p, `{}`), ok); err != nil {
			t.Fatalf("call %d: %v", i+1, err)
		}
	}
	if !newLimiter(t, nil, pipeline.Env{}, "").EnforcesKeyLimits() {
		t.Error("key limits are not on by default")
	}
}

// fixedSpend is a spend reader for one customer's month. The Redis test
// below and cmd/host's end-to-end test read real spend; this one drives the
// thresholds exactly.
type fixedSpend map[string]core.USD

func (f fixedSpend) Spend(_ context.Context, customer string, _ time.Time) (core.UsageTotals, core.UsageTotals, error) {
	return core.UsageTotals{}, core.UsageTotals{Cost: f[customer]}, nil
}

func TestKeyMonthlyBudget(t *testing.T) {
	spend := fixedSpend{"acme": 5 * core.Dollar, "globex": 4 * core.Dollar}
	rl := newLimiter(t, map[string]any{"budget_refresh": "0s"}, pipeline.Env{Spend: spend}, "")
	tests := []struct {
		name     string
		customer string
		budget   core.USD
		refused  bool
	}{
		{"under", "globex", 5 * core.Dollar, false},
		{"reached", "acme", 5 * core.Dollar, true},
		{"over", "acme", core.Dollar, true},
		{"no budget", "acme", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &core.Principal{KeyID: "key_b", Customer: tt.customer, Limits: core.Limits{MonthlyBudget: tt.budget}}
			called := false
			_, err := rl.Handle(context.Background(), keyCall("b", p, `{}`), func(ctx context.Context, req *core.Request) (*core.Response, error) {
				called = true
				return ok(ctx, req)
			})
			if !tt.refused {
				if err != nil || !called {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var e *core.Error
			if !errors.As(err, &e) || called {
				t.Fatalf("not refused: %v", err)
			}
			if e.HTTPStatus() != http.StatusPaymentRequired || e.Kind != core.KindDenied || e.Code != "budget_exceeded" ||
				!errors.Is(err, core.ErrDenied) {
				t.Errorf("refusal %d %s %s", e.HTTPStatus(), e.Kind, e.Code)
			}
			if !strings.Contains(e.Message, `API key key_b is spent: customer "acme" has spent $5 this month`) {
				t.Errorf("message %s", e.Message)
			}
			if e.Header.Get("X-Tollgate-Budget-Usd") != tt.budget.String() || e.Header.Get("X-Tollgate-Budget-Spent-Usd") != "5" ||
				!strings.HasSuffix(e.Header.Get("X-Tollgate-Budget-Reset"), "-01T00:00:00Z") {
				t.Errorf("headers %v", e.Header)
			}
		})
	}
}

func TestKeyMonthlyBudgetFromRedisSpend(t *testing.T) {
	srv := redistest.Start(t)
	opts := redisstore.Options{Addr: srv.Addr, KeyPrefix: "t:"}
	store, err := redisstore.Open(opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	env := pipeline.Env{Redis: &opts, Spend: redisstore.SpendReader(opts, nil)}
	rl := newLimiter(t, map[string]any{"budget_refresh": "0s"}, env, "")
	p := &core.Principal{KeyID: "key_r", Customer: "acme", Limits: core.Limits{MonthlyBudget: core.Dollar / 100}}
	ctx := context.Background()
	if _, err := rl.Handle(ctx, keyCall("r1", p, `{}`), ok); err != nil {
		t.Fatalf("first call, nothing spent: %v", err)
	}
	// Two events worth a cent between them land in the spend counters, as
	// the redis_spend sink writes them.
	half := core.Dollar / 200
	var events []*core.UsageEvent
	for _, id := range []string{"ev1", "ev2"} {
		events = append(events, &core.UsageEvent{ID: id, Timestamp: time.Now().UTC(), CustomerID: "acme", Status: core.StatusOK,
			TotalTokens: 10, Cost: &half})
	}
	if err := store.AddSpend(ctx, events); err != nil {
		t.Fatal(err)
	}
	_, err = rl.Handle(ctx, keyCall("r2", p, `{}`), ok)
	if !errors.Is(err, core.ErrDenied) || core.AsError(err).HTTPStatus() != 402 {
		t.Fatalf("after a cent was spent of a one-cent budget: %v", err)
	}
}

func TestKeyMonthlyBudgetSpendUnreadable(t *testing.T) {
	// The ledger's reader with no track stage open: what a pipeline
	// without usage tracking gives the stage.
	spend := tracking.SpendReader(t.TempDir())
	p := &core.Principal{KeyID: "key_u", Customer: "acme", Limits: core.Limits{MonthlyBudget: core.Dollar}}
	for _, tt := range []struct {
		onError string
		status  int
	}{{"", 0}, {pipeline.FailClosed, 503}} {
		rl := newLimiter(t, nil, pipeline.Env{Spend: spend}, tt.onError)
		_, err := rl.Handle(context.Background(), keyCall("u", p, `{}`), ok)
		switch {
		case tt.status == 0 && err != nil:
			t.Errorf("fail_open: %v", err)
		case tt.status != 0 && (err == nil || core.AsError(err).HTTPStatus() != tt.status || core.AsError(err).Code != "spend_unavailable"):
			t.Errorf("fail_closed: %v", err)
		}
	}
}

// TestChargeStartsClean: a charge taken from the pool after another
// call's carries nothing of it — not its estimate, not its buckets.
func TestChargeStartsClean(t *testing.T) {
	rl := newLimiter(t, map[string]any{"tokens_per_minute": 1e9, "requests_per_minute": 1e9}, pipeline.Env{}, "")
	big := keyCall("big", nil, `{"max_tokens":5000}`)
	big.Customer = "big"
	c := rl.charge(big)
	rl.finish(context.Background(), big, c, 10)
	small := keyCall("small", nil, `{}`)
	small.Customer = "small"
	c = rl.charge(small)
	defer rl.finish(context.Background(), small, c, 0)
	if want := estimate(small, rl.defaultOutput); c.estimate != want {
		t.Errorf("estimate %d, want %d", c.estimate, want)
	}
	if len(c.buckets) != 2 {
		t.Fatalf("%d buckets, want 2", len(c.buckets))
	}
	for _, b := range c.buckets {
		if !strings.HasSuffix(b.Key, ":small") {
			t.Errorf("bucket %q is not the small customer's", b.Key)
		}
	}
}
