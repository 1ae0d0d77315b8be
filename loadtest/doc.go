// Package loadtest is tollgate's load harness: it starts a lean canned
// upstream, the gateway with each named config and a bare
// httputil.ReverseProxy to the same upstream, drives each with the same load
// from a separate process (wrk for plain calls, a Go client for streams),
// and reports every figure against the baseline measured in the same run.
//
// It is a tool, not an API: `make loadtest` runs it (see
// docs/benchmarks.md). Every load loop is bounded in time and in count and
// talks only to loopback addresses.
package loadtest
