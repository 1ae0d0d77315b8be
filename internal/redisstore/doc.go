// Package redisstore is the one package that adapts Redis: the state that
// several tollgate replicas share — rate-limit buckets and concurrency
// leases, cached answers, and the per-customer spend counters — lives behind
// its small API, and no other package imports the Redis client. Keeping the
// client, its Lua scripts and its failure handling in one place means one
// answer to "what happens when Redis is slow or down": every command runs
// under a deadline ([Options.Timeout]); a failure marks the store down for
// [Options.DownFor], during which calls fail at once with [ErrDown] instead
// of each waiting for its own timeout; and the stages decide, per their
// on_error, whether to go on without Redis or to refuse the call.
//
// Clocks: rate-limit scripts read the Redis server's clock (TIME), so
// replicas whose clocks drift still share one limit.
package redisstore
