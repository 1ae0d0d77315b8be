// Package resilience holds the stages that keep calls working when an
// upstream struggles: retry (backoff with jitter, honouring Retry-After),
// breaker (a circuit breaker per upstream) and fallback (other upstreams
// and models of the same wire format). They register themselves as the
// built-ins "retry", "breaker" and "fallback"; see docs/resilience.md for
// their config and how they combine:
//
//	fallback ── retry ── breaker ── call
//
// fallback tries the next target when one fails for good (its retries
// exhausted, or its breaker open); retry tries one upstream again; breaker
// answers at once with 503 for an upstream that keeps failing.
package resilience

import "github.com/tollgate-dev/tollgate/pipeline"

func init() {
	pipeline.RegisterBuiltin("retry", newRetry)
	pipeline.RegisterBuiltin("breaker", newBreaker)
	pipeline.RegisterBuiltin("fallback", newFallback)
}
