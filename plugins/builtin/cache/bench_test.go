package cache

import (
	"context"
	"encoding/binary"
	"github.com/tollgate-dev/tollgate/internal/benchcpu"
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
)

// benchBody is a typical ~1 KB chat request.
var benchBody = `{"model":"gpt-4o-mini","temperature":0.2,"messages":[{"role":"system","content":"You are a helpful assistant that answers briefly and precisely."},{"role":"user","content":"` +
	strings.Repeat("Tell me about the gateway. ", 30) + `"}]}`

var answer = []byte(`{"id":"chatcmpl-1","object":"chat.completion","model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"` +
	strings.Repeat("word ", 60) + `"},"finish_reason":"stop"}],"usage":{"prompt_tokens":180,"completion_tokens":60,"total_tokens":240}}`)

func benchRequest() *core.Request {
	req := &core.Request{Method: http.MethodPost, Path: "/v1/chat/completions", Format: openai.New(),
		Operation: "chat.completions", Body: []byte(benchBody), Header: http.Header{}, Customer: "acme",
		Upstream: core.NewUpstream("openai", "openai", nil, "", "")}
	req.Format.Parse(req)
	return req
}

func upstreamAnswer(context.Context, *core.Request) (*core.Response, error) {
	return &core.Response{Status: 200, Header: http.Header{"Content-Type": {"application/json"}}, Body: answer,
		Usage: core.Usage{InputTokens: 180, OutputTokens: 60}, UsageKnown: true}, nil
}

func benchCache(b testing.TB, env pipeline.Env, cfg map[string]any) *Cache {
	env.Log = slog.New(slog.DiscardHandler)
	c, err := newStage(pipeline.Spec{Name: "cache", Kind: "builtin", Config: cfg}, env)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.(*Cache).Close(context.Background()) })
	return c.(*Cache)
}

// hits runs the stage's hit path: key derivation, lookup, answer.
func hits(b *testing.B, c *Cache, before func()) {
	ctx := context.Background()
	req := benchRequest()
	if _, err := c.Handle(ctx, req, upstreamAnswer); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	defer benchcpu.Start(b)()
	for b.Loop() {
		if before != nil {
			before()
		}
		req.CacheHit = false
		resp, err := c.Handle(ctx, req, nil)
		if err != nil || !req.CacheHit || len(resp.Body) != len(answer) {
			b.Fatalf("not a hit: %v", err)
		}
	}
}

// BenchmarkHitMemory is a cache hit in memory, as the stage sees it.
func BenchmarkHitMemory(b *testing.B) {
	hits(b, benchCache(b, pipeline.Env{}, nil), nil)
}

// BenchmarkHitRedis is a cache hit read from Redis (the in-memory front
// emptied before each call), one loopback round trip.
func BenchmarkHitRedis(b *testing.B) {
	srv := redistest.Start(b)
	c := benchCache(b, pipeline.Env{Redis: &redisstore.Options{Addr: srv.Addr, KeyPrefix: "b:"}}, nil)
	hits(b, c, c.shared.front.clearAll)
}

// BenchmarkHitRedisFront is a hit in the in-memory front of the Redis
// backend: no round trip.
func BenchmarkHitRedisFront(b *testing.B) {
	srv := redistest.Start(b)
	hits(b, benchCache(b, pipeline.Env{Redis: &redisstore.Options{Addr: srv.Addr, KeyPrefix: "b:"}}, nil), nil)
}

// BenchmarkKeySHA is the key derivation with the SHA-256 key for Redis.
func BenchmarkKeySHA(b *testing.B) {
	c := benchCache(b, pipeline.Env{}, nil)
	req := benchRequest()
	var sha [32]byte
	b.ReportAllocs()
	defer benchcpu.Start(b)()
	for b.Loop() {
		c.key(req, &sha)
	}
}

// BenchmarkKey is the in-memory key derivation alone.
func BenchmarkKey(b *testing.B) {
	c := benchCache(b, pipeline.Env{}, nil)
	req := benchRequest()
	b.ReportAllocs()
	defer benchcpu.Start(b)()
	for b.Loop() {
		c.key(req, nil)
	}
}

// BenchmarkStoreFull is the in-memory store once the cache is full: each
// store evicts, as on a stream of distinct calls.
func BenchmarkStoreFull(b *testing.B) {
	m := newMemory(8<<20, 1<<20, 5*time.Minute)
	defer m.close()
	body := make([]byte, 600)
	var k memKey
	b.ReportAllocs()
	defer benchcpu.Start(b)()
	for i := uint64(0); b.Loop(); i++ {
		binary.LittleEndian.PutUint64(k[:], i*0x9E3779B97F4A7C15)
		m.set(k, &entry{status: 200, body: body})
	}
}
