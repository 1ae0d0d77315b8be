// Package shared opens the store that the ratelimit and cache stages keep
// their state in — memory, or the Redis that replicas share — and applies a
// stage's on_error when Redis fails.
package shared

import (
	"fmt"
	"net/http"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/internal/redisstore"
	"github.com/tollgate-dev/tollgate/pipeline"
)

// Backends a stateful stage may name in its config.
const (
	Auto   = ""       // redis when the config has a redis section, else memory
	Memory = "memory" // this replica only
	Redis  = "redis"  // shared by every replica
)

// Open returns the Redis store a stage's backend setting selects, or nil for
// memory. Under `tollgate validate` (env.CheckOnly) it checks the setting
// but connects to nothing, and returns nil.
func Open(s pipeline.Spec, env pipeline.Env, backend string) (*redisstore.Store, error) {
	switch backend {
	case Auto, Memory, Redis:
	default:
		return nil, fmt.Errorf("%s: config: backend: want memory or redis (or leave it out: redis when the config has a redis section), got %q", s.Path(), backend)
	}
	opts, _ := env.Redis.(*redisstore.Options)
	if backend == Memory || backend == Auto && opts == nil {
		return nil, nil
	}
	if opts == nil {
		return nil, fmt.Errorf("%s: config: backend: redis needs the top-level redis section: set redis.addr", s.Path())
	}
	if env.CheckOnly {
		return nil, nil
	}
	return redisstore.Open(*opts, env.Log)
}

// Mode is a stage's answer to a Redis failure: go on without Redis, with a
// loud warning (fail_open, the default), or refuse the call (fail_closed).
type Mode struct {
	Stage    string
	FailOpen bool
	Store    *redisstore.Store
}

// NewMode reads the stage entry's on_error.
func NewMode(s pipeline.Spec, store *redisstore.Store) Mode {
	return Mode{Stage: s.Name, FailOpen: s.OnError != pipeline.FailClosed, Store: store}
}

// Failed handles a Redis failure: under fail_open it warns (at most once a
// second: "REDIS UNAVAILABLE: <degraded>") and returns nil; under
// fail_closed it returns the 503 to refuse the call with.
func (m Mode) Failed(err error, degraded string) error {
	if m.FailOpen {
		m.Store.Warn(m.Stage, degraded+" (on_error: fail_open)", err)
		return nil
	}
	m.Store.Warn(m.Stage, "refusing calls (on_error: fail_closed)", err)
	return &core.Error{Kind: core.KindInternal, Status: http.StatusServiceUnavailable, Code: "shared_state_unavailable",
		Stage: m.Stage, Err: err,
		Message: "the shared state store (Redis at " + m.Store.Addr() + ") is unavailable and this stage is set to fail closed; try again shortly"}
}
