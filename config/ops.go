package config

import (
	"fmt"
	"time"
)

// AdminConfig configures the admin API on the admin listener.
type AdminConfig struct {
	// TokenEnv names the environment variable that holds the admin API's
	// bearer token. /admin/… endpoints refuse every call while it is unset;
	// /healthz, /readyz and /metrics need no token.
	TokenEnv string `koanf:"token_env"`
}

// AuthConfig says how clients authenticate to the gateway.
type AuthConfig struct {
	// VirtualKeys, when true, makes every call present a tollgate key
	// (created with `tollgate keys create`) in place of a provider key; an
	// unknown or revoked one is answered 401.
	VirtualKeys bool `koanf:"virtual_keys"`
	// KeysFile, if set, is a JSON file of hashed keys (from `tollgate keys
	// export`) read in addition to the key store in data_dir: how several
	// replicas share keys (mount it from a Secret).
	KeysFile string `koanf:"keys_file"`
	// RefreshInterval is how often the gateway checks the key store for
	// new and revoked keys.
	RefreshInterval time.Duration `koanf:"refresh_interval"`
}

// MetricsConfig configures the Prometheus metrics at /metrics on the admin
// listener.
type MetricsConfig struct {
	// Enabled serves /metrics.
	Enabled bool `koanf:"enabled"`
	// CustomerLabel adds a customer label to the token and cost counters;
	// each customer becomes its own series, so keep it off with many.
	CustomerLabel bool `koanf:"customer_label"`
}

// ReloadConfig configures hot reload of the config file.
type ReloadConfig struct {
	// Watch reloads the config file when it changes (SIGHUP always
	// reloads).
	Watch bool `koanf:"watch"`
	// Debounce waits this long after a change before reloading, so an
	// editor's several writes reload once.
	Debounce time.Duration `koanf:"debounce"`
}

// AlertsConfig configures the webhook notifier for operator conditions:
// a circuit breaker opened, the outbox backlog over a bound, dead letters
// appearing.
type AlertsConfig struct {
	// WebhookURLEnv names the environment variable holding the webhook URL
	// (a Slack-style URL is a secret); empty or unset turns alerts off.
	WebhookURLEnv string `koanf:"webhook_url_env"`
	// CheckInterval is how often the conditions are checked.
	CheckInterval time.Duration `koanf:"check_interval"`
	// MinInterval is the least time between two alerts of one kind.
	MinInterval time.Duration `koanf:"min_interval"`
	// OutboxBacklog alerts when this many usage events wait for a sink.
	OutboxBacklog int64 `koanf:"outbox_backlog"`
}

// opsProblems checks the operations sections.
func (c *Config) opsProblems(v *validator) {
	if c.Admin.TokenEnv != "" && !envVarName.MatchString(c.Admin.TokenEnv) {
		v.add("admin.token_env", "want the name of an environment variable, like TOLLGATE_ADMIN_TOKEN; the token itself belongs in the environment")
	}
	if c.Alerts.WebhookURLEnv != "" && !envVarName.MatchString(c.Alerts.WebhookURLEnv) {
		v.add("alerts.webhook_url_env", "want the name of an environment variable, like TOLLGATE_ALERT_WEBHOOK; the URL itself belongs in the environment")
	}
	v.notNegative("auth.refresh_interval", c.Auth.RefreshInterval)
	v.notNegative("reload.debounce", c.Reload.Debounce)
	v.notNegative("alerts.check_interval", c.Alerts.CheckInterval)
	v.notNegative("alerts.min_interval", c.Alerts.MinInterval)
	if c.Alerts.OutboxBacklog < 0 {
		v.add("alerts.outbox_backlog", fmt.Sprintf("want a number of events >= 0, got %d", c.Alerts.OutboxBacklog))
	}
	if c.Server.MaxConcurrentRequests < 0 {
		v.add("server.max_concurrent_requests", fmt.Sprintf("want a number >= 0 (0: no bound), got %d", c.Server.MaxConcurrentRequests))
	}
}
