package tollgate

import (
	"log/slog"
	"maps"
	"slices"

	"github.com/tollgate-dev/tollgate/config"
	"github.com/tollgate-dev/tollgate/internal/redisstore"
	"github.com/tollgate-dev/tollgate/pipeline"
)

// spendSinkType is the sink that feeds the Redis spend counters.
const spendSinkType = "redis_spend"

// shareState puts the config's Redis, when it has one, where the pipeline's
// stages find it: env.Redis for the stages that keep shared state (ratelimit,
// cache), env.Spend for budget policies, and a redis_spend sink on the track
// stage so that every replica's usage lands in the shared spend counters.
// specs are changed in place; cfg is not.
func shareState(cfg *config.Config, specs []pipeline.Spec, env *pipeline.Env, log *slog.Logger) {
	r := cfg.Redis
	if !r.Enabled() {
		return
	}
	var password string
	if r.PasswordEnv != "" {
		password, _ = cfg.Lookup(r.PasswordEnv)
	}
	opts := &redisstore.Options{Addr: r.Addr, Username: r.Username, Password: password, DB: r.DB, TLS: r.TLS,
		KeyPrefix: r.KeyPrefix, DialTimeout: r.DialTimeout, Timeout: r.Timeout, PoolSize: r.PoolSize, DownFor: r.DownFor}
	if r.DownFor == 0 {
		opts.DownFor = -1 // down_for: 0 turns fail-fast off
	}
	env.Redis = opts
	env.Spend = redisstore.SpendReader(*opts, log)
	for i := range specs {
		s := &specs[i]
		if s.Kind != pipeline.KindBuiltin || pipeline.BuiltinName(s.Name) != "track" {
			continue
		}
		if ledger, ok := s.Config["ledger"].(bool); ok && !ledger {
			continue
		}
		sinks, _ := s.Config["sinks"].([]any)
		if slices.ContainsFunc(sinks, func(v any) bool {
			m, _ := v.(map[string]any)
			return m["type"] == spendSinkType
		}) {
			return
		}
		s.Config = maps.Clone(s.Config)
		s.Config["sinks"] = append(slices.Clip(sinks), map[string]any{"type": spendSinkType})
		return
	}
}
