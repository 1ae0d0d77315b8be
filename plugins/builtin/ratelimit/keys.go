package ratelimit

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/internal/redisstore"
	"github.com/tollgate-dev/tollgate/pipeline"
)

// keyVirtual is the key of the limits a virtual key carries. It is not one
// a config may name: those limits come with the key.
const keyVirtual = "virtual_key"

// keyLimiter applies each virtual key's own limits (core.Principal.Limits):
// requests and tokens per minute in buckets of the key's id, beside the
// configured limits and in the same atomic step, and the monthly budget
// against the spend of the call's customer.
type keyLimiter struct {
	prefixes [2]string // requests, tokens; the key id completes the name
	spend    core.SpendReader
	cache    spendCache

	warnedNoSpend atomic.Bool
	lastWarn      atomic.Int64 // unix nanoseconds of the last spend warning
}

// keyLimitPrefixes names the per-key buckets of a stage.
func keyLimitPrefixes(name string, store *redisstore.Store) [2]string {
	var out [2]string
	for j, dim := range []byte{dimRequests, dimTokens} {
		parts := []string{"rl", name, "key", string(dim), ""}
		if store != nil {
			out[j] = store.Key(parts...)
		} else {
			out[j] = strings.Join(parts, ":")
		}
	}
	return out
}

// keyLimit is a key's rate limits as a [Limit] over one minute.
func keyLimit(p *core.Principal) Limit {
	return Limit{Key: keyVirtual, Requests: p.Limits.RequestsPerMinute, Tokens: p.Limits.TokensPerMinute,
		Window: pipeline.Duration(time.Minute)}
}

// charge adds the buckets of req's key to c as limit li.
func (k *keyLimiter) charge(c *charge, req *core.Request, li int, defaultOutput int64) {
	p := req.Principal
	if p.Limits.RequestsPerMinute > 0 {
		c.add(redisstore.Bucket{Key: k.prefixes[0] + p.KeyID, Limit: p.Limits.RequestsPerMinute, Window: time.Minute, Cost: 1},
			li, dimRequests)
	}
	if p.Limits.TokensPerMinute > 0 {
		if c.estimate < 0 {
			c.estimate = estimate(req, defaultOutput)
		}
		c.add(redisstore.Bucket{Key: k.prefixes[1] + p.KeyID, Limit: p.Limits.TokensPerMinute, Window: time.Minute, Cost: c.estimate},
			li, dimTokens)
	}
}

// checkBudget refuses a call made with a key whose monthly budget is spent:
// the month's spend (UTC) of the customer the call is billed to — the key's
// customer — as the usage ledger or the Redis spend counters count it, has
// reached the key's MonthlyBudget. It is answered 402 (kind denied, code
// budget_exceeded): the call is refused for good, not for a moment, so the
// SDKs must not retry it as they retry a 429.
func (r *RateLimit) checkBudget(ctx context.Context, req *core.Request) error {
	k, p := r.keys, req.Principal
	if k.spend == nil {
		if k.warnedNoSpend.CompareAndSwap(false, true) {
			r.log.Warn("virtual keys' monthly budgets are not enforced: nothing counts spend here (no usage ledger and no Redis spend counters)",
				"stage", r.name)
		}
		return nil
	}
	now := time.Now().UTC()
	spent, err := k.cache.month(ctx, k.spend, req.Customer, now)
	if err != nil {
		return r.spendFailed(err)
	}
	budget := p.Limits.MonthlyBudget
	if spent < budget {
		return nil
	}
	reset := time.Date(now.Year(), now.Month()+1, 1, 0, 0, 0, 0, time.UTC)
	h := make(http.Header, 3)
	h.Set("X-Tollgate-Budget-Usd", budget.String())
	h.Set("X-Tollgate-Budget-Spent-Usd", spent.String())
	h.Set("X-Tollgate-Budget-Reset", reset.Format(time.RFC3339))
	return &core.Error{Kind: core.KindDenied, Status: http.StatusPaymentRequired, Code: "budget_exceeded", Stage: r.name, Header: h,
		Message: fmt.Sprintf("the monthly budget of API key %s is spent: customer %q has spent $%s this month of the key's $%s; calls resume at %s, or raise the key's budget",
			p.KeyID, req.Customer, spent, budget, reset.Format(time.RFC3339))}
}

// spendFailed handles a spend that cannot be read: under fail_open (the
// default) the call goes on with a warning, at most one a second; under
// fail_closed it is refused with a 503.
func (r *RateLimit) spendFailed(err error) error {
	now := time.Now().UnixNano()
	if last := r.keys.lastWarn.Load(); now-last >= int64(time.Second) && r.keys.lastWarn.CompareAndSwap(last, now) {
		what := "monthly budgets of virtual keys are not enforced (on_error: fail_open)"
		if !r.mode.FailOpen {
			what = "refusing calls made with keys that have a monthly budget (on_error: fail_closed)"
		}
		r.log.Error("cannot read spend: "+what, "stage", r.name, "err", err)
	}
	if r.mode.FailOpen {
		return nil
	}
	return &core.Error{Kind: core.KindInternal, Status: http.StatusServiceUnavailable, Code: "spend_unavailable", Stage: r.name, Err: err,
		Message: "the spend of this key's customer cannot be read to check the key's monthly budget, and this stage is set to fail closed; try again shortly"}
}

// EnforcesKeyLimits reports whether the stage applies virtual keys' own
// limits (key_limits, on unless the config turns it off). The host asks,
// to warn when keys carry limits that no stage of the pipeline enforces.
func (r *RateLimit) EnforcesKeyLimits() bool { return r.keys != nil }

// spendCache keeps each customer's spend this month for a short while, so
// that a busy customer's calls read the ledger (or Redis) once per refresh
// rather than once each. A budget is approximate by that much, and by the
// time tracking takes to count a call's usage. Safe for concurrent use.
type spendCache struct {
	ttl time.Duration
	mu  sync.Mutex
	m   map[string]spendEntry
}

type spendEntry struct {
	at    time.Time
	month core.USD
}

// maxCachedCustomers bounds the cache; past it, it starts over.
const maxCachedCustomers = 10000

// month returns the customer's spend in the UTC month of now.
func (c *spendCache) month(ctx context.Context, sr core.SpendReader, customer string, now time.Time) (core.USD, error) {
	c.mu.Lock()
	e, ok := c.m[customer]
	c.mu.Unlock()
	if ok && now.Sub(e.at) < c.ttl && e.at.Month() == now.Month() && e.at.Year() == now.Year() {
		return e.month, nil
	}
	_, month, err := sr.Spend(ctx, customer, now)
	if err != nil {
		return 0, err
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxCachedCustomers {
		c.m = map[string]spendEntry{}
	}
	c.m[customer] = spendEntry{at: now, month: month.Cost}
	c.mu.Unlock()
	return month.Cost, nil
}
