package tollgate_test

import (
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/providers/providertest"
)

// fastRetry retries quickly so that tests do not wait.
const fastRetry = "  - {name: retry, kind: builtin, config: {max_attempts: 3, initial_interval: 5ms, max_interval: 20ms}}\n"

func TestRetry(t *testing.T) {
	tests := []struct {
		name        string
		fault       providertest.Fault
		stream      bool
		wantStatus  int
		wantCalls   int
		wantRetries int
		wantEvent   string
	}{
		{"429 with Retry-After is retried after the wait", providertest.Fault{Status: 429, RetryAfter: 30 * time.Millisecond}, false, 200, 2, 1, core.StatusOK},
		{"529 overloaded is retried", providertest.Fault{Status: 529, Times: 2}, false, 200, 3, 2, core.StatusOK},
		{"a dying upstream exhausts the attempts", providertest.Fault{Status: 503, Times: -1}, false, 503, 3, 2, core.StatusUpstreamError},
		{"a dropped connection is retried", providertest.Fault{Drop: true}, false, 200, 2, 1, core.StatusOK},
		{"the request's own 400 is not retried", providertest.Fault{Status: 400, Times: -1}, false, 400, 1, 0, core.StatusUpstreamError},
		{"a 429 asking for a long wait is passed on", providertest.Fault{Status: 429, RetryAfter: time.Hour}, false, 429, 1, 0, core.StatusUpstreamError},
		{"a stream failing before its first byte is retried", providertest.Fault{Status: 500}, true, 200, 2, 1, core.StatusOK},
		{"a stream cut after its first bytes is never retried", providertest.Fault{CutAfter: 2}, true, 200, 1, 0, core.StatusUpstreamError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			up := providertest.NewServer(t)
			up.Inject(tt.fault)
			s := newStack(t, providersYAML(up.URL)+"pipeline:\n  - {name: validate, kind: builtin}\n"+fastRetry+
				"  - {name: call, kind: builtin}\n"+trackYAML)
			body := chat("hello retry")
			if tt.stream {
				body = chat("hello retry", `,"stream":true`)
			}
			r := s.do(t, body)
			if r.status != tt.wantStatus {
				t.Fatalf("status %d, want %d: %s", r.status, tt.wantStatus, r.body)
			}
			if tt.fault.CutAfter > 0 && !r.aborted {
				t.Error("the cut stream was not cut off for the client")
			}
			if tt.wantStatus == 429 && r.header.Get("Retry-After") != "3600" {
				t.Errorf("the upstream's Retry-After was not passed on: %v", r.header)
			}
			if got := len(up.Requests()); got != tt.wantCalls {
				t.Errorf("upstream calls %d, want %d", got, tt.wantCalls)
			}
			evs := s.events(t)
			if len(evs) != 1 || evs[0].RetryCount != tt.wantRetries || evs[0].Status != tt.wantEvent {
				t.Fatalf("events %+v, want retry_count %d status %s", evs, tt.wantRetries, tt.wantEvent)
			}
			if tt.wantRetries > 0 && !strings.Contains(s.logs.String(), "retrying upstream call") {
				t.Error("retries are not logged")
			}
		})
	}
}

func TestBreakerOpensAndFallbackAnswers(t *testing.T) {
	dying := providertest.NewServer(t)
	dying.Inject(providertest.Fault{Status: 500, Times: -1})
	backup := providertest.NewServer(t, providertest.WithReply("from the backup"))
	pipeline := "pipeline:\n  - {name: validate, kind: builtin}\n" +
		"  - {name: fallback, kind: builtin, config: {targets: [{upstream: backup1, model: gpt-4o}]}}\n" +
		"  - {name: retry, kind: builtin, config: {max_attempts: 2, initial_interval: 1ms, max_interval: 2ms}}\n" +
		"  - {name: breaker, kind: builtin, config: {consecutive_failures: 2, open_for: 1h}}\n" +
		"  - {name: call, kind: builtin}\n" + trackYAML
	s := newStack(t, providersYAML(dying.URL, backup.URL)+pipeline)

	for i := range 3 {
		r := s.do(t, chat("hello"))
		if r.status != 200 || !strings.Contains(r.body, "from the backup") {
			t.Fatalf("call %d: %d %s", i, r.status, r.body)
		}
	}
	// Call 0 failed twice on the dying upstream (opening its breaker) and
	// fell back; calls 1 and 2 were refused by the open breaker at once.
	if n := len(dying.Requests()); n != 2 {
		t.Errorf("the dying upstream got %d calls, want 2 (then its breaker opened)", n)
	}
	if n := len(backup.Requests()); n != 3 {
		t.Errorf("the backup got %d calls, want 3", n)
	}
	for _, r := range backup.Requests() {
		if !strings.Contains(string(r.Body), `"model":"gpt-4o"`) {
			t.Errorf("fallback did not switch the model: %s", r.Body)
		}
	}
	evs := s.events(t)
	if len(evs) != 3 {
		t.Fatalf("events: %+v", evs)
	}
	for i, ev := range evs {
		if ev.Upstream != "backup1" || ev.Model != "gpt-4o" || ev.Status != core.StatusOK {
			t.Errorf("event %d: upstream %q model %q status %s, want the backup's answer recorded", i, ev.Upstream, ev.Model, ev.Status)
		}
	}
	if !strings.Contains(s.logs.String(), "circuit breaker opened") {
		t.Error("the breaker opening is not logged")
	}
}

func TestOpenBreakerAnswers503(t *testing.T) {
	dying := providertest.NewServer(t)
	dying.Inject(providertest.Fault{Status: 502, Times: -1})
	s := newStack(t, providersYAML(dying.URL)+"pipeline:\n"+
		"  - {name: breaker, kind: builtin, config: {consecutive_failures: 3, open_for: 1h}}\n"+
		"  - {name: call, kind: builtin}\n"+trackYAML)
	for range 3 {
		if r := s.do(t, chat("x")); r.status != 502 {
			t.Fatalf("status %d", r.status)
		}
	}
	r := s.do(t, chat("x"))
	if r.status != 503 || !strings.Contains(r.body, "circuit breaker is open") || r.header.Get("Retry-After") == "" {
		t.Fatalf("open breaker: %d %v %s", r.status, r.header, r.body)
	}
	if n := len(dying.Requests()); n != 3 {
		t.Errorf("upstream calls %d, want 3", n)
	}
	if evs := s.events(t); evs[3].Status != core.StatusCircuitOpen || evs[3].HTTPStatus != 503 {
		t.Errorf("event %+v", evs[3])
	}
}
