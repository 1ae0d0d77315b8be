package config

import (
	"maps"
	"slices"
	"strings"
)

// redacted replaces a secret's value in messages.
const redacted = "[REDACTED]"

// minSecretLen is the length below which a value is not scrubbed from
// messages: replacing "dev" everywhere would mangle them and protect nothing.
const minSecretLen = 8

// SecretVars are the environment variables the config names as holding
// secrets, sorted: each provider's api_key_env, redis.password_env,
// admin.token_env and alerts.webhook_url_env. Their values are kept out of
// logs and out of YAML.
func (c *Config) SecretVars() []string {
	names := map[string]bool{c.Redis.PasswordEnv: true, c.Admin.TokenEnv: true, c.Alerts.WebhookURLEnv: true}
	for _, p := range c.Providers {
		names[p.APIKeyEnv] = true
	}
	delete(names, "")
	return slices.Sorted(maps.Keys(names))
}

// secretsOf returns the values of the variables in names (SecretVars), and
// of every variable whose name says it holds a credential, longest first,
// so that a secret that contains another is replaced whole.
func secretsOf(environ *environment, names []string) []string {
	var out []string
	for name, v := range environ.all() {
		if len(v.value) >= minSecretLen && (slices.Contains(names, name) || secretName(name)) {
			out = append(out, v.value)
		}
	}
	slices.SortFunc(out, func(a, b string) int { return len(b) - len(a) })
	return out
}

// secretName reports whether an environment variable's name says it holds a
// credential.
func secretName(name string) bool {
	n := strings.ToUpper(name)
	for _, w := range []string{"KEY", "TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL", "AUTH"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// scrub replaces every secret in the problems' text.
func scrub(problems []Problem, secrets []string) {
	if len(secrets) == 0 {
		return
	}
	r := strings.NewReplacer(pairs(secrets)...)
	for i := range problems {
		p := &problems[i]
		p.Path, p.Message, p.Source = r.Replace(p.Path), r.Replace(p.Message), r.Replace(p.Source)
	}
}

// pairs makes strings.NewReplacer arguments that replace each secret.
func pairs(secrets []string) []string {
	out := make([]string, 0, 2*len(secrets))
	for _, s := range secrets {
		out = append(out, s, redacted)
	}
	return out
}
