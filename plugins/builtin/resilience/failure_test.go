package resilience

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/core"
)

func TestServerDelay(t *testing.T) {
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		header map[string]string
		want   time.Duration
		ok     bool
	}{
		{"retry-after-ms wins", map[string]string{"Retry-After-Ms": "1500", "Retry-After": "9"}, 1500 * time.Millisecond, true},
		{"retry-after seconds", map[string]string{"Retry-After": "2"}, 2 * time.Second, true},
		{"retry-after date", map[string]string{"Retry-After": now.Add(3 * time.Second).Format(http.TimeFormat)}, 3 * time.Second, true},
		{"openai reset of the exhausted limit", map[string]string{"X-Ratelimit-Remaining-Requests": "0", "X-Ratelimit-Reset-Requests": "1.5s",
			"X-Ratelimit-Remaining-Tokens": "900", "X-Ratelimit-Reset-Tokens": "6m0s"}, 1500 * time.Millisecond, true},
		{"anthropic reset", map[string]string{"Anthropic-Ratelimit-Tokens-Remaining": "0",
			"Anthropic-Ratelimit-Tokens-Reset": now.Add(4 * time.Second).Format(time.RFC3339)}, 4 * time.Second, true},
		{"nothing asked", map[string]string{"X-Ratelimit-Remaining-Requests": "5", "X-Ratelimit-Reset-Requests": "1s"}, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for k, v := range tt.header {
				h.Set(k, v)
			}
			got, ok := serverDelay(h, now)
			if got != tt.want || ok != tt.ok {
				t.Errorf("serverDelay = %v, %v; want %v, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestUpstreamFailure(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"429", &core.Error{Kind: core.KindUpstream, Status: 429}, true},
		{"529", &core.Error{Kind: core.KindUpstream, Status: 529}, true},
		{"400 is the request's", &core.Error{Kind: core.KindUpstream, Status: 400}, false},
		{"unreachable", &core.Error{Kind: core.KindUnreachable}, true},
		{"upstream timeout", &core.Error{Kind: core.KindTimeout, Code: "upstream_timeout"}, true},
		{"a stage's timeout", &core.Error{Kind: core.KindTimeout, Code: "stage_timeout"}, false},
		{"an open breaker is not retried", &core.Error{Kind: core.KindCircuitOpen}, false},
		{"client gone", &core.Error{Kind: core.KindClientGone}, false},
		{"foreign error", errors.New("x"), false},
	}
	for _, tt := range tests {
		if got := upstreamFailure(tt.err, DefaultRetryStatuses); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}
