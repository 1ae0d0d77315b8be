package config

import (
	"slices"
	"strings"
)

// redacted replaces a secret's value in messages.
const redacted = "[REDACTED]"

// minSecretLen is the length below which a value is not scrubbed from
// messages: replacing "dev" everywhere would mangle them and protect nothing.
const minSecretLen = 8

// secretValues returns the values that must not appear in a message: those
// of the variables named by any api_key_env in raw, and of every variable
// whose name says it holds a credential.
func secretValues(environ *environment, raw map[string]any) []string {
	names := map[string]bool{}
	if ps, ok := raw["providers"].(map[string]any); ok {
		for _, p := range ps {
			if pm, ok := p.(map[string]any); ok {
				if n, ok := pm["api_key_env"].(string); ok {
					names[n] = true
				}
			}
		}
	}
	if r, ok := raw["redis"].(map[string]any); ok {
		if n, ok := r["password_env"].(string); ok {
			names[n] = true
		}
	}
	var out []string
	for name, v := range environ.all() {
		if len(v.value) >= minSecretLen && (names[name] || secretName(name)) {
			out = append(out, v.value)
		}
	}
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
	// Longest first, so a secret that contains another goes whole.
	slices.SortFunc(secrets, func(a, b string) int { return len(b) - len(a) })
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
