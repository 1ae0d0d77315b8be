package resilience

import (
	"errors"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/tollgate-dev/tollgate/core"
)

// DefaultRetryStatuses are the upstream statuses worth another attempt:
// rate limited (429), server errors (500, 502, 503, 504) and Anthropic's
// overloaded (529). Any other 4xx is the request's own fault and fails
// again.
var DefaultRetryStatuses = []int{429, 500, 502, 503, 504, 529}

// DefaultBreakerStatuses are the statuses a circuit breaker counts as the
// upstream failing. 429 is not among them: a rate limit is the upstream
// working as configured, and retry (honouring Retry-After) handles it.
var DefaultBreakerStatuses = []int{500, 502, 503, 504, 529}

// upstreamFailure reports whether err is a failure of the upstream rather
// than of the request: it could not be reached, it timed out waiting for
// the answer's headers, or it answered one of statuses. Nothing of the
// answer has reached the client when call returns such an error, so
// another attempt is safe.
func upstreamFailure(err error, statuses []int) bool {
	var e *core.Error
	if !errors.As(err, &e) {
		return false
	}
	switch e.Kind {
	case core.KindUnreachable:
		return true
	case core.KindTimeout:
		return e.Code == "upstream_timeout"
	case core.KindUpstream:
		return slices.Contains(statuses, e.HTTPStatus())
	}
	return false
}

// serverDelay is how long the upstream asked the client to wait before
// trying again: retry-after-ms, else Retry-After (seconds or an HTTP date),
// else, for a rate limit, the latest reset of a limit that has nothing left
// (OpenAI's x-ratelimit-reset-requests / -tokens, Anthropic's
// anthropic-ratelimit-*-reset).
func serverDelay(h http.Header, now time.Time) (time.Duration, bool) {
	if v := h.Get("Retry-After-Ms"); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms >= 0 {
			return time.Duration(ms * float64(time.Millisecond)), true
		}
	}
	if v := h.Get("Retry-After"); v != "" {
		if s, err := strconv.ParseFloat(v, 64); err == nil && s >= 0 {
			return time.Duration(s * float64(time.Second)), true
		}
		if t, err := http.ParseTime(v); err == nil {
			return max(t.Sub(now), 0), true
		}
	}
	var wait time.Duration
	found := false
	for _, l := range resetHeaders {
		if h.Get(l.remaining) != "0" {
			continue
		}
		v := h.Get(l.reset)
		d, err := time.ParseDuration(v)
		if l.timestamp {
			var t time.Time
			if t, err = time.Parse(time.RFC3339, v); err == nil {
				d = t.Sub(now)
			}
		}
		if err == nil {
			wait, found = max(wait, d), true
		}
	}
	return wait, found
}

// resetHeaders pair the providers' rate-limit remaining and reset headers.
// OpenAI's resets are durations ("6m0s"), Anthropic's are timestamps.
var resetHeaders = []struct {
	remaining, reset string
	timestamp        bool
}{
	{"X-Ratelimit-Remaining-Requests", "X-Ratelimit-Reset-Requests", false},
	{"X-Ratelimit-Remaining-Tokens", "X-Ratelimit-Reset-Tokens", false},
	{"Anthropic-Ratelimit-Requests-Remaining", "Anthropic-Ratelimit-Requests-Reset", true},
	{"Anthropic-Ratelimit-Tokens-Remaining", "Anthropic-Ratelimit-Tokens-Reset", true},
	{"Anthropic-Ratelimit-Input-Tokens-Remaining", "Anthropic-Ratelimit-Input-Tokens-Reset", true},
	{"Anthropic-Ratelimit-Output-Tokens-Remaining", "Anthropic-Ratelimit-Output-Tokens-Reset", true},
}

func sortStrings(s []string) []string {
	slices.Sort(s)
	return s
}

// drop lets go of an answer a stage returned beside a failure, before the
// call is tried again or given up: a stream's owner is whoever holds it
// last, and an attempt that is not passed on is not held by anyone else.
func drop(resp *core.Response) {
	if resp != nil && resp.Stream != nil {
		resp.Stream.Close()
	}
}
