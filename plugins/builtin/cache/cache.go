// Package cache is the exact-match response cache stage: a call whose key
// (provider, model and normalized request; see IgnoredFields) was answered
// before is answered again from the cache, whole or as a replayed stream.
// It registers itself as the built-in "cache"; see docs/resilience.md.
package cache

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"hash/maphash"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/pipeline"
	sharedstate "github.com/tollgate-dev/tollgate/plugins/builtin/internal/shared"
	"github.com/tollgate-dev/tollgate/providers/sse"
)

// Config configures the cache stage.
type Config struct {
	// TTL is how long an answer is served from the cache (default 5m).
	TTL pipeline.Duration `json:"ttl"`
	// MaxBytes bounds the memory the cache holds (default 64 MiB); with
	// Redis it bounds the in-memory front, and Redis's own maxmemory
	// bounds the rest.
	MaxBytes int64 `json:"max_bytes"`
	// MaxEntryBytes is the largest answer cached (default 1 MiB).
	MaxEntryBytes int64 `json:"max_entry_bytes"`
	// Scope is customer (the default: one customer never sees another's
	// answer) or global (every customer shares answers: opt in only when
	// prompts carry nothing private).
	Scope string `json:"scope"`
	// Backend is memory or redis; empty picks redis when the config has a
	// redis section, else memory.
	Backend string `json:"backend"`
	// FrontTTL is how long a replica keeps an answer it read from Redis in
	// its in-memory front (default 1m, at most TTL).
	FrontTTL pipeline.Duration `json:"front_ttl"`
	// IgnoreFields adds top-level body fields to leave out of the key.
	IgnoreFields []string `json:"ignore_fields"`
}

// Header is the response header that says whether the cache answered.
const Header = "X-Tollgate-Cache"

// Cache answers calls it has seen before. Only 200 answers are stored; a
// request with Cache-Control: no-cache skips the lookup (and stores the
// fresh answer), no-store skips both. Every answer that passes gets
// X-Tollgate-Cache: hit or miss. Safe for concurrent use.
type Cache struct {
	name     string
	ignored  []string
	global   bool
	maxEntry int64
	ttl      time.Duration
	seeds    [2]maphash.Seed
	mem      *memory // the memory backend, or nil
	shared   *shared // the Redis backend, or nil
	mode     sharedstate.Mode
	log      *slog.Logger
}

func newStage(s pipeline.Spec, env pipeline.Env) (any, error) {
	cfg := Config{TTL: pipeline.Duration(5 * time.Minute), MaxBytes: 64 << 20, MaxEntryBytes: 1 << 20,
		Scope: "customer", FrontTTL: pipeline.Duration(time.Minute)}
	if err := s.Decode(&cfg); err != nil {
		return nil, err
	}
	switch {
	case cfg.TTL <= 0:
		return nil, fmt.Errorf("%s: config: ttl: must be positive, e.g. 5m", s.Path())
	case cfg.MaxBytes <= 0 || cfg.MaxEntryBytes <= 0:
		return nil, fmt.Errorf("%s: config: max_bytes and max_entry_bytes must be positive", s.Path())
	case cfg.Scope != "customer" && cfg.Scope != "global":
		return nil, fmt.Errorf("%s: config: scope: want customer or global, got %q", s.Path(), cfg.Scope)
	case cfg.FrontTTL <= 0:
		return nil, fmt.Errorf("%s: config: front_ttl: must be positive", s.Path())
	}
	store, err := sharedstate.Open(s, env, cfg.Backend)
	if err != nil {
		return nil, err
	}
	c := &Cache{name: s.Name, ignored: append(slices.Clone(IgnoredFields), cfg.IgnoreFields...),
		global: cfg.Scope == "global", maxEntry: cfg.MaxEntryBytes, ttl: time.Duration(cfg.TTL),
		mode: sharedstate.NewMode(s, store), log: env.Log, seeds: [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}}
	if store != nil {
		c.shared = &shared{store: store, ttl: c.ttl,
			front: newMemory(cfg.MaxBytes, cfg.MaxEntryBytes, min(time.Duration(cfg.FrontTTL), c.ttl))}
	} else {
		c.mem = newMemory(cfg.MaxBytes, cfg.MaxEntryBytes, c.ttl)
	}
	return c, nil
}

func init() { pipeline.RegisterBuiltin("cache", newStage) }

// Handle answers from the cache, or calls next and stores the answer.
func (c *Cache) Handle(ctx context.Context, req *core.Request, next core.HandlerFunc) (*core.Response, error) {
	read, write := cacheControl(req.Header)
	if req.Method != http.MethodPost || !write {
		return miss(next(ctx, req))
	}
	var sha *[sha256.Size]byte // the Redis key, computed only when needed
	shaKey := func() *[sha256.Size]byte {
		if sha == nil {
			sha = new([sha256.Size]byte)
			c.key(req, sha)
		}
		return sha
	}
	k, ok := c.key(req, nil)
	if !ok {
		return miss(next(ctx, req))
	}
	if read {
		e, hit, err := c.get(ctx, k, shaKey)
		if err != nil {
			if ferr := c.mode.Failed(err, "the cache is skipped"); ferr != nil {
				return nil, ferr
			}
			return miss(next(ctx, req)) // Redis is down: do not try to store either
		}
		if hit && e.stream == req.Stream {
			req.CacheHit = true
			return e.response(), nil
		}
	}
	if c.shared != nil {
		shaKey() // before next: a later stage may change the request
	}
	resp, err := next(ctx, req)
	if err != nil || resp.Status != http.StatusOK {
		return miss(resp, err)
	}
	if resp.Stream != nil {
		resp.Stream = &recorder{Stream: resp.Stream, c: c, ctx: ctx, key: k, sha: sha, resp: resp}
	} else if int64(len(resp.Body)) <= c.maxEntry {
		c.put(ctx, k, sha, &entry{status: resp.Status, contentType: resp.Header.Get("Content-Type"),
			body: resp.Body, usage: resp.Usage})
	}
	return miss(resp, err)
}

// miss marks an answer that did not come from the cache.
func miss(resp *core.Response, err error) (*core.Response, error) {
	if resp != nil {
		if resp.Header == nil {
			resp.Header = http.Header{}
		}
		resp.Header[Header] = missValue
	}
	return resp, err
}

var (
	missValue = []string{"miss"}
	hitValue  = []string{"hit"}
)

// cacheControl reads the request's Cache-Control: no-cache skips the
// lookup, no-store skips the lookup and the store.
func cacheControl(h http.Header) (read, write bool) {
	v := h["Cache-Control"]
	if len(v) == 0 {
		return true, true
	}
	s := strings.ToLower(strings.Join(v, ","))
	if strings.Contains(s, "no-store") {
		return false, false
	}
	return !strings.Contains(s, "no-cache"), true
}

func (c *Cache) get(ctx context.Context, k memKey, sha func() *[sha256.Size]byte) (*entry, bool, error) {
	if c.mem != nil {
		e, ok := c.mem.get(k)
		return e, ok, nil
	}
	return c.shared.get(ctx, k, sha)
}

// put stores an entry; a Redis failure only costs the entry. sha is the
// Redis key (nil with the memory backend).
func (c *Cache) put(ctx context.Context, k memKey, sha *[sha256.Size]byte, e *entry) {
	if c.mem != nil {
		c.mem.set(k, e)
		return
	}
	if err := c.shared.set(context.WithoutCancel(ctx), k, sha, e); err != nil {
		c.shared.store.Warn(c.name, "answers are cached in this replica only", err)
	}
}

// response builds the answer of a hit; the entry is shared, read-only.
func (e *entry) response() *core.Response {
	h := make(http.Header, 2)
	h[Header] = hitValue
	if e.contentType != "" {
		h["Content-Type"] = []string{e.contentType}
	}
	if e.stream {
		return &core.Response{Status: e.status, Header: h, Stream: sse.NewReader(bytes.NewReader(e.body))}
	}
	return &core.Response{Status: e.status, Header: h, Body: e.body, Usage: e.usage, UsageKnown: true}
}

// Close stops the in-memory cache and releases the Redis store.
func (c *Cache) Close(context.Context) error {
	if c.mem != nil {
		c.mem.close()
		return nil
	}
	c.shared.front.close()
	return c.shared.store.Close()
}

// recorder copies a stream's events as they pass and stores them when the
// stream ends cleanly; a stream that breaks, is closed early or grows past
// max_entry_bytes is not stored.
type recorder struct {
	core.Stream
	c    *Cache
	ctx  context.Context
	key  memKey
	sha  *[sha256.Size]byte
	resp *core.Response
	buf  []byte
	over bool
	done bool
}

func (r *recorder) Next() (*core.Event, error) {
	ev, err := r.Stream.Next()
	switch {
	case err == io.EOF && !r.done && !r.over:
		r.done = true
		r.c.put(r.ctx, r.key, r.sha, &entry{stream: true, status: r.resp.Status, contentType: r.resp.Header.Get("Content-Type"),
			body: r.buf, usage: r.resp.Usage})
	case err == nil && !r.over:
		if int64(len(r.buf)+len(ev.Raw)) > r.c.maxEntry {
			r.over, r.buf = true, nil
		} else {
			r.buf = append(r.buf, ev.Raw...)
		}
	}
	return ev, err
}

var (
	_ core.Stage      = (*Cache)(nil)
	_ pipeline.Closer = (*Cache)(nil)
)
