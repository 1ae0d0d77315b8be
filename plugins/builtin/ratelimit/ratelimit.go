// Package ratelimit is the ratelimit stage: requests and tokens per window
// and calls in flight, per customer, per metadata tag or for everyone, and
// each virtual key's own limits and monthly budget, kept in memory for one
// replica or in Redis for many. It registers itself as the built-in
// "ratelimit"; see docs/resilience.md.
package ratelimit

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/internal/redisstore"
	"github.com/tollgate-dev/tollgate/pipeline"
	"github.com/tollgate-dev/tollgate/plugins/builtin/internal/shared"
)

// RateLimit refuses a call that would go over a limit with a 429 in the
// provider's error shape, carrying Retry-After and x-ratelimit-* headers.
//
// Tokens are charged before the call from an estimate (the prompt, and the
// max_tokens it asks for) and reconciled after it with the usage the
// engine records for the call, the usage events' and the ledger's — for a
// stream, when the stream ends, however it ends. A call that failed before
// an answer, or a cache hit, records none and is refunded. All the limits
// of a call are checked and charged in one atomic step: a refused call
// costs nothing.
//
// A call made with a virtual key (core.Request.Principal) is also held to
// the key's own requests and tokens per minute, counted per key, and is
// refused with a 402 once the month's spend of its customer has reached the
// key's monthly budget (unless the config sets key_limits: false).
//
// Safe for concurrent use.
type RateLimit struct {
	name          string
	limits        []Limit
	backend       backend
	store         *redisstore.Store // nil for memory
	mode          shared.Mode
	defaultOutput int64
	leaseTTL      time.Duration
	log           *slog.Logger
	prefixes      [][3]string // per limit: the key prefix of requests, tokens, leases
	keys          *keyLimiter // nil with key_limits: false
}

// dims of a bucket.
const (
	dimRequests = 'r'
	dimTokens   = 't'
	dimLeases   = 'c'
)

// charge is what one call took: its buckets (with which limit and dimension
// each belongs to) and its leases. The arrays hold the common case without
// allocating.
type charge struct {
	buckets  []redisstore.Bucket
	leases   []redisstore.Lease
	limitOf  []int  // per bucket, then per lease: the index in limits, len(limits) for the key's own
	dimOf    []byte // per bucket
	estimate int64

	bucketArr [4]redisstore.Bucket
	adjustArr [4]redisstore.Bucket // finish's reconciliation, no allocation of its own
	leaseArr  [2]redisstore.Lease
	limitArr  [6]int
	dimArr    [4]byte
}

// Handle checks the call's limits, calls next if they allow it, and
// reconciles its token charge and gives back its concurrency slots when
// the answer is complete.
func (r *RateLimit) Handle(ctx context.Context, req *core.Request, next core.HandlerFunc) (*core.Response, error) {
	if r.keys != nil && req.Principal != nil && req.Principal.Limits.MonthlyBudget > 0 {
		if err := r.checkBudget(ctx, req); err != nil {
			return nil, err
		}
	}
	c := r.charge(req)
	if len(c.buckets)+len(c.leases) == 0 {
		charges.Put(c)
		return next(ctx, req)
	}
	d, err := r.backend.Take(ctx, req.ID, c.buckets, c.leases)
	if err != nil {
		charges.Put(c)
		if ferr := r.mode.Failed(err, "rate limits are not enforced"); ferr != nil {
			return nil, ferr
		}
		return next(ctx, req)
	}
	if !d.Allowed {
		err := r.refuse(req, c, d)
		charges.Put(c)
		return nil, err
	}
	resp, err := next(ctx, req)
	switch {
	case resp == nil || req.CacheHit:
		r.finish(ctx, req, c, 0)
	case resp.Stream != nil && err == nil:
		// The engine reads the stream's usage as it passes, into
		// resp.Usage; when the stream ends, early or not, that is what it
		// records.
		resp.Stream = &finishingStream{Stream: resp.Stream, done: func() {
			r.finish(ctx, req, c, chargedTokens(req, resp.Usage))
		}}
	default:
		// A whole answer, or one a stage refused or failed on after it
		// was spent (a stream too: the engine closes it).
		r.finish(ctx, req, c, answerTokens(req, resp))
	}
	return resp, err
}

// answerTokens is what a whole answer is charged: its usage, read from its
// body as the engine reads it (once, whoever reads it first).
func answerTokens(req *core.Request, resp *core.Response) int64 {
	resp.ReadUsage(req)
	return chargedTokens(req, resp.Usage)
}

// chargedTokens is input + output of u, the usage the engine records.
// Where the provider's count is unknown (u is estimated, or cannot be
// true and the engine records an estimate), the engine's count of the
// prompt is an estimate from its text, or none; the limits count at least
// the prompt's estimate made before the call: a client that hangs up
// before a stream's usage chunk must not spend none of its token limit on
// its prompt.
func chargedTokens(req *core.Request, u core.Usage) int64 {
	if core.CheckUsage(u) != nil {
		u = core.Usage{Estimated: true}
	}
	if u.Estimated {
		u.InputTokens = max(u.InputTokens, promptEstimate(req))
	}
	return u.InputTokens + u.OutputTokens
}

// charges recycles charges: one lives from a call's check to its
// reconciliation, and the backends keep none of it (the memory backend
// copies the names it stores, Redis sends them).
var charges = sync.Pool{New: func() any { return new(charge) }}

// charge builds the buckets and leases that apply to req.
func (r *RateLimit) charge(req *core.Request) *charge {
	c := charges.Get().(*charge)
	*c = charge{estimate: -1}
	c.buckets, c.leases, c.limitOf, c.dimOf = c.bucketArr[:0], c.leaseArr[:0], c.limitArr[:0], c.dimArr[:0]
	var leaseLimits [2]int
	ll := leaseLimits[:0]
	for i, l := range r.limits {
		v, ok := keyValue(l.Key, req)
		if !ok {
			continue
		}
		names := r.names(i, v)
		if l.Requests > 0 {
			c.add(redisstore.Bucket{Key: names[dimIndexRequests], Limit: l.Requests, Window: time.Duration(l.Window), Cost: 1}, i, dimRequests)
		}
		if l.Tokens > 0 {
			if c.estimate < 0 {
				c.estimate = estimate(req, r.defaultOutput)
			}
			c.add(redisstore.Bucket{Key: names[dimIndexTokens], Limit: l.Tokens, Window: time.Duration(l.Window), Cost: c.estimate}, i, dimTokens)
		}
		if l.Concurrent > 0 {
			c.leases = append(c.leases, redisstore.Lease{Key: names[dimIndexLeases], Limit: l.Concurrent, TTL: r.leaseTTL})
			ll = append(ll, i)
		}
	}
	if r.keys != nil && req.Principal != nil {
		r.keys.charge(c, req, len(r.limits), r.defaultOutput)
	}
	c.limitOf = append(c.limitOf, ll...)
	return c
}

// The indexes of a limit's bucket and lease names, as keyPrefixes orders them.
const (
	dimIndexRequests = iota
	dimIndexTokens
	dimIndexLeases
)

// names are limit i's bucket and lease names for the key value v: its
// prefixes each followed by v, cut from one string so a call costs one
// allocation for all three.
func (r *RateLimit) names(i int, v string) (names [3]string) {
	p := &r.prefixes[i]
	var b strings.Builder
	b.Grow(len(p[0]) + len(p[1]) + len(p[2]) + 3*len(v))
	var ends [3]int
	for j := range p {
		b.WriteString(p[j])
		b.WriteString(v)
		ends[j] = b.Len()
	}
	all, start := b.String(), 0
	for j := range names {
		names[j], start = all[start:ends[j]], ends[j]
	}
	return names
}

func (c *charge) add(b redisstore.Bucket, limit int, dim byte) {
	c.buckets = append(c.buckets, b)
	c.limitOf = append(c.limitOf, limit)
	c.dimOf = append(c.dimOf, dim)
}

// keyPrefixes names the buckets and leases of each limit: the stage, the
// limit, the dimension; a call's key value completes the name.
func keyPrefixes(name string, limits []Limit, store *redisstore.Store) [][3]string {
	out := make([][3]string, len(limits))
	for i := range limits {
		for j, dim := range []byte{dimRequests, dimTokens, dimLeases} {
			parts := []string{"rl", name, strconv.Itoa(i), string(dim), ""}
			if store != nil {
				out[i][j] = store.Key(parts...)
			} else {
				out[i][j] = strings.Join(parts, ":")
			}
		}
	}
	return out
}

// keyValue is the value of a limit's key for req; false when the limit does
// not apply (a metadata tag the call does not carry).
func keyValue(key string, req *core.Request) (string, bool) {
	switch key {
	case KeyCustomer:
		return req.Customer, true
	case KeyGlobal:
		return "*", true
	}
	v, ok := req.Metadata[key[len(keyMetadata):]]
	return v, ok
}

// finish reconciles the token buckets with used, releases the leases and
// gives the charge back to the pool. It runs after the answer, so it never
// refuses anything; a Redis failure here is only logged.
func (r *RateLimit) finish(ctx context.Context, req *core.Request, c *charge, used int64) {
	defer charges.Put(c) // the call's last use of its charge
	adjust := c.adjustArr[:0]
	for i, b := range c.buckets {
		// A bucket was charged at most its whole limit (Take): the
		// difference to the estimate was never taken, so it is not
		// given back either.
		if charged := min(c.estimate, b.Limit); c.dimOf[i] == dimTokens && used != charged {
			b.Cost = used - charged
			adjust = append(adjust, b)
		}
	}
	if len(adjust) == 0 && len(c.leases) == 0 {
		return
	}
	if err := r.backend.Finish(ctx, req.ID, adjust, c.leases); err != nil { // Finish outlives ctx's end
		r.store.Warn(r.name, "token usage not reconciled and concurrency slots left to lapse after lease_ttl", err)
	}
}

// limitAt is the limit with index li for req: a configured one, or, at
// len(r.limits), the limits of the call's virtual key.
func (r *RateLimit) limitAt(li int, req *core.Request) (Limit, string) {
	if li == len(r.limits) {
		return keyLimit(req.Principal), req.Principal.KeyID
	}
	l := r.limits[li]
	v, _ := keyValue(l.Key, req)
	return l, v
}

// refuse builds the 429 for a refused call.
func (r *RateLimit) refuse(req *core.Request, c *charge, d redisstore.Decision) error {
	li := c.limitOf[d.Denied]
	l, v := r.limitAt(li, req)
	h := make(http.Header, 8)
	retry := d.RetryAfter
	var what string
	if d.Denied >= len(c.buckets) {
		retry = time.Second // a slot frees when another call ends
		what = fmt.Sprintf("%d concurrent requests; retry when one finishes", l.Concurrent)
		h.Set("X-Ratelimit-Limit-Concurrent", strconv.FormatInt(l.Concurrent, 10))
	} else if c.dimOf[d.Denied] == dimTokens {
		what = fmt.Sprintf("%d tokens per %s (this call is estimated at %d tokens); retry in %s",
			l.Tokens, time.Duration(l.Window), c.estimate, retry.Round(time.Millisecond))
	} else {
		what = fmt.Sprintf("%d requests per %s; retry in %s", l.Requests, time.Duration(l.Window), retry.Round(time.Millisecond))
	}
	for i, b := range c.buckets {
		if c.limitOf[i] != li {
			continue
		}
		name := "requests"
		if c.dimOf[i] == dimTokens {
			name = "tokens"
		}
		h.Set("X-Ratelimit-Limit-"+name, strconv.FormatInt(b.Limit, 10))
		h.Set("X-Ratelimit-Remaining-"+name, strconv.FormatInt(d.Remaining[i], 10))
		h.Set("X-Ratelimit-Reset-"+name, d.Reset[i].Round(time.Millisecond).String())
	}
	h.Set("Retry-After", strconv.FormatInt(int64(math.Ceil(max(retry, time.Second).Seconds())), 10))
	h.Set("Retry-After-Ms", strconv.FormatInt(max(retry.Milliseconds(), 1), 10))
	return &core.Error{Kind: core.KindRateLimit, Code: "rate_limit_exceeded", Header: h,
		Message: "rate limit reached for " + who(l.Key, v) + ": " + what}
}

// who names the holder of a limit in a message.
func who(key, value string) string {
	switch key {
	case KeyGlobal:
		return "all calls"
	case keyVirtual:
		return "API key " + value
	case KeyCustomer:
		if value == "" {
			return "unattributed calls"
		}
		return fmt.Sprintf("customer %q", value)
	}
	return fmt.Sprintf("%s %q", key[len(keyMetadata):], value)
}

// Close releases the Redis store.
func (r *RateLimit) Close(context.Context) error {
	if r.store != nil {
		return r.store.Close()
	}
	return nil
}

// finishingStream calls done once when the stream ends: at its end, when
// it fails, or when it is closed early.
type finishingStream struct {
	core.Stream
	once sync.Once
	done func()
}

func (s *finishingStream) Next() (*core.Event, error) {
	ev, err := s.Stream.Next()
	if err != nil {
		s.once.Do(s.done)
	}
	return ev, err
}

func (s *finishingStream) Close() error {
	s.once.Do(s.done)
	return s.Stream.Close()
}

var (
	_ core.Stage      = (*RateLimit)(nil)
	_ pipeline.Closer = (*RateLimit)(nil)
)
