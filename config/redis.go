package config

import (
	"fmt"
	"time"
)

// RedisConfig says where the state that several replicas share lives: rate
// limits, the response cache and the spend counters. With an empty Addr
// there is no Redis and every replica keeps its own state in memory.
type RedisConfig struct {
	// Addr is the Redis server's host:port; empty turns Redis off.
	Addr string `koanf:"addr"`
	// Username is the ACL user; empty for the default user.
	Username string `koanf:"username"`
	// PasswordEnv names the environment variable that holds the password;
	// empty for a server without one. Read it with [Config.Lookup].
	PasswordEnv string `koanf:"password_env"`
	// DB is the database number.
	DB int `koanf:"db"`
	// TLS connects with TLS.
	TLS bool `koanf:"tls"`
	// KeyPrefix starts every key tollgate writes, so that several gateways
	// (or other programs) can share one server.
	KeyPrefix string `koanf:"key_prefix"`
	// DialTimeout bounds opening a connection.
	DialTimeout time.Duration `koanf:"dial_timeout"`
	// Timeout is the deadline of every command, round trip included: a
	// Redis that does not answer in time counts as down, never as a hang.
	Timeout time.Duration `koanf:"timeout"`
	// PoolSize is the most connections per replica; 0 for 10 per CPU.
	PoolSize int `koanf:"pool_size"`
	// DownFor is how long, after a failed command, calls skip Redis and go
	// straight to their stage's on_error mode, so that a dead server costs
	// one timeout per DownFor rather than one per call.
	DownFor time.Duration `koanf:"down_for"`
}

// Enabled reports whether Redis is configured.
func (r RedisConfig) Enabled() bool { return r.Addr != "" }

// redis checks the redis section; nothing is checked when Redis is off.
func (v *validator) redis(r RedisConfig) {
	if !r.Enabled() {
		return
	}
	v.hostPort("redis.addr", r.Addr, true)
	if r.PasswordEnv != "" && !envVarName.MatchString(r.PasswordEnv) {
		v.add("redis.password_env", "want the name of an environment variable, like REDIS_PASSWORD; "+
			"the password itself belongs in the environment, not in the config")
	}
	if r.DB < 0 {
		v.add("redis.db", fmt.Sprintf("must not be negative, got %d", r.DB))
	}
	if r.PoolSize < 0 {
		v.add("redis.pool_size", fmt.Sprintf("must not be negative, got %d", r.PoolSize))
	}
	for _, d := range []struct {
		path string
		d    time.Duration
	}{{"redis.dial_timeout", r.DialTimeout}, {"redis.timeout", r.Timeout}} {
		if d.d <= 0 {
			v.add(d.path, "must be positive (every Redis call needs a deadline), got "+d.d.String())
		}
	}
	v.notNegative("redis.down_for", r.DownFor)
}
