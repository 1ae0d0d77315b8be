package cache

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/pipeline"
)

func TestEntryEncoding(t *testing.T) {
	tests := []struct {
		name string
		e    entry
	}{
		{"whole answer", entry{status: 200, contentType: "application/json", body: []byte(`{"ok":true}`),
			usage: core.Usage{InputTokens: 12, OutputTokens: 7, TotalTokens: 19, CachedInputTokens: 2}}},
		{"stream", entry{stream: true, status: 200, contentType: "text/event-stream", body: []byte("data: {}\n\ndata: [DONE]\n\n")}},
		{"empty body", entry{status: 200}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decode(tt.e.encode())
			if err != nil {
				t.Fatal(err)
			}
			if len(got.body) == 0 && len(tt.e.body) == 0 {
				got.body = tt.e.body
			}
			if !reflect.DeepEqual(*got, tt.e) {
				t.Errorf("decoded %+v, want %+v", *got, tt.e)
			}
		})
	}
	for _, bad := range [][]byte{nil, {9, 0}, {encodeVersion, 0, 0xff}} {
		if _, err := decode(bad); err == nil {
			t.Errorf("decode(%v) accepted a damaged entry", bad)
		}
	}
}

func TestConfigProblems(t *testing.T) {
	tests := []struct {
		config map[string]any
		want   string
	}{
		{map[string]any{"ttl": "0s"}, "ttl: must be positive"},
		{map[string]any{"scope": "tenant"}, `scope: want customer or global, got "tenant"`},
		{map[string]any{"backend": "redis"}, "backend: redis needs the top-level redis section"},
		{map[string]any{"backend": "disk"}, `backend: want memory or redis`},
		{map[string]any{"tll": "5m"}, `unknown key "tll"`},
	}
	for _, tt := range tests {
		_, err := newStage(pipeline.Spec{Name: "cache", Index: 1, Config: tt.config}, pipeline.Env{})
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "pipeline[1] (cache)") {
			t.Errorf("config %v: %v, want %q", tt.config, err, tt.want)
		}
	}
}

// defaultCache is a cache stage with the default config, closed when the
// test ends.
func defaultCache(t *testing.T) *Cache {
	t.Helper()
	s, err := newStage(pipeline.Spec{Name: "cache"}, pipeline.Env{})
	if err != nil {
		t.Fatal(err)
	}
	c := s.(*Cache)
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func TestKeyIgnoresOrderAndIgnoredFields(t *testing.T) {
	c := defaultCache(t)
	key := func(body string) memKey {
		req := benchRequest()
		req.Body = []byte(body)
		k, ok := c.key(req, nil)
		if !ok {
			t.Fatalf("no key for %s", body)
		}
		return k
	}
	base := key(`{"model":"m","messages":[1],"temperature":0}`)
	if key(`{"temperature":0, "user":"u","messages":[1],"model":"m","metadata":{"a":1}}`) != base {
		t.Error("field order or an ignored field changed the key")
	}
	if key(`{"model":"m","messages":[1],"temperature":1}`) == base {
		t.Error("another temperature has the same key")
	}
}

// TestKeyPartsKeepTheirBoundaries: moving bytes from one part of the key
// to the next, or changing a long part (hashed on its own) anywhere,
// changes the key.
func TestKeyPartsKeepTheirBoundaries(t *testing.T) {
	c := defaultCache(t)
	key := func(path, query, body string) memKey {
		req := benchRequest()
		req.Path, req.RawQuery, req.Body = path, query, []byte(body)
		k, ok := c.key(req, nil)
		if !ok {
			t.Fatalf("no key for %s", body)
		}
		return k
	}
	long := strings.Repeat("x", 3*inlinePart)
	body := func(text string) string { return `{"model":"m","messages":[{"content":"` + text + `"}]}` }
	base := key("/v1/x", "ab", body(long))
	for name, k := range map[string]memKey{
		"a boundary moved":              key("/v1/xa", "b", body(long)),
		"a long part's last byte":       key("/v1/x", "ab", body(long[:len(long)-1]+"y")),
		"a long part's first byte":      key("/v1/x", "ab", body("y"+long[1:])),
		"a field moved into a long one": key("/v1/x", "ab", `{"model":"m","messages":[{"content":"`+long+`"}],"n":1}`),
	} {
		if k == base {
			t.Errorf("%s: same key", name)
		}
	}
	if key("/v1/x", "ab", body(long)) != base {
		t.Error("the same call has another key")
	}
}
