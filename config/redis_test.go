package config

import (
	"strings"
	"testing"
	"time"
)

func TestRedisSection(t *testing.T) {
	c := mustLoad(t, Options{Path: writeConfig(t, "redis:\n  addr: 127.0.0.1:6379\n  password_env: REDIS_PW\n  timeout: 100ms\n"),
		Environ: []string{"REDIS_PW=hunter2-hunter2"}})
	if !c.Redis.Enabled() || c.Redis.Addr != "127.0.0.1:6379" || c.Redis.Timeout != 100*time.Millisecond || c.Redis.DialTimeout != time.Second {
		t.Errorf("redis = %+v", c.Redis)
	}
	if pw, ok := c.Lookup(c.Redis.PasswordEnv); !ok || pw != "hunter2-hunter2" {
		t.Errorf("password lookup = %q, %v", pw, ok)
	}
	if mustLoad(t, Options{}).Redis.Enabled() {
		t.Error("redis is on by default")
	}
}

func TestRedisProblems(t *testing.T) {
	tests := []struct {
		name    string
		yaml    string
		path    string
		message string
	}{
		{"bad address", "redis:\n  addr: localhost\n", "redis.addr", "want host:port"},
		{"no deadline", "redis:\n  addr: 127.0.0.1:6379\n  timeout: 0s\n", "redis.timeout", "must be positive"},
		{"password in place of its variable", "redis:\n  addr: 127.0.0.1:6379\n  password_env: p@ss word\n", "redis.password_env", "name of an environment variable"},
		{"negative db", "redis:\n  addr: 127.0.0.1:6379\n  db: -1\n", "redis.db", "must not be negative"},
		{"unknown key", "redis:\n  adr: 127.0.0.1:6379\n", "redis.adr", `did you mean "addr"?`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, ps := loadProblems(t, Options{Path: writeConfig(t, tt.yaml)})
			p := findProblem(t, ps, tt.path)
			if !strings.Contains(p.Message, tt.message) {
				t.Errorf("message %q lacks %q", p.Message, tt.message)
			}
		})
	}
}
