package ratelimit

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/internal/redisstore"
	"github.com/tollgate-dev/tollgate/pipeline"
)

func TestConfigProblems(t *testing.T) {
	tests := []struct {
		config map[string]any
		want   string
	}{
		{map[string]any{"key_limits": false}, "no limit set and key_limits is false"},
		{map[string]any{"key": "metadata.team"}, "key: set requests_per_minute"},
		{map[string]any{"requests_per_minute": 10, "key": "tenant"}, `key: want customer, global or metadata.NAME, got "tenant"`},
		{map[string]any{"limits": []any{map[string]any{"requests": 5, "window": "500us"}}}, "limits[0]: window: want at least 1ms"},
		{map[string]any{"limits": []any{map[string]any{"key": "global"}}}, "limits[0]: set requests, tokens or concurrent"},
		{map[string]any{"requests_per_minute": 10, "backend": "redis"}, "needs the top-level redis section"},
		{map[string]any{"requests_per_min": 10}, `unknown key "requests_per_min"`},
	}
	for _, tt := range tests {
		_, err := newStage(pipeline.Spec{Name: "ratelimit", Index: 2, Config: tt.config}, pipeline.Env{})
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "pipeline[2] (ratelimit)") {
			t.Errorf("config %v: %v, want %q", tt.config, err, tt.want)
		}
	}
}

func TestEstimate(t *testing.T) {
	tests := []struct {
		name string
		op   string
		body string
		want int64
	}{
		{"max_tokens", "chat.completions", `{"max_tokens":100}`, 5 + 100},
		{"max_completion_tokens", "chat.completions", `{"max_completion_tokens":50}`, 7 + 50},
		{"gemini", "generateContent", `{"generationConfig":{"maxOutputTokens":20}}`, 11 + 20},
		{"no cap", "chat.completions", `{"model":"m"}`, 4 + 1024},
		{"embeddings", "embeddings", `{"input":"abcdefgh"}`, 5},
	}
	for _, tt := range tests {
		got := estimate(&core.Request{Operation: tt.op, Body: []byte(tt.body)}, 1024)
		if got != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, got, tt.want)
		}
	}
}

func TestMemoryRefills(t *testing.T) {
	m := newMemory()
	b := []redisstore.Bucket{{Key: "k", Limit: 2, Window: 40 * time.Millisecond, Cost: 1}}
	ctx := context.Background()
	for i, want := range []bool{true, true, false} {
		if d, _ := m.Take(ctx, "h", b, nil); d.Allowed != want {
			t.Fatalf("take %d: %+v", i, d)
		}
	}
	d, _ := m.Take(ctx, "h", b, nil)
	if d.Allowed || d.RetryAfter <= 0 || d.RetryAfter > 20*time.Millisecond {
		t.Fatalf("refused take should wait at most one interval: %+v", d)
	}
	time.Sleep(d.RetryAfter + 2*time.Millisecond)
	if d, _ := m.Take(ctx, "h", b, nil); !d.Allowed {
		t.Fatalf("after the wait: %+v", d)
	}
}
