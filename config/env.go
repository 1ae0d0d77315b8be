package config

import (
	"os"
	"strings"

	"github.com/knadh/koanf/parsers/dotenv"
)

// envPrefix starts every environment variable that overrides a key.
const envPrefix = "TOLLGATE_"

// envReserved lists TOLLGATE_ variables that are not config keys: the
// binary reads them itself.
var envReserved = map[string]bool{
	"TOLLGATE_CONFIG":      true, // the config file's path
	"TOLLGATE_ADMIN_TOKEN": true, // the admin API's token (admin.token_env's default)
}

// environment answers secret lookups: the process environment (or
// Options.Environ), then the .env file beside the config file.
type environment struct {
	vars       map[string]string // from Options.Environ; nil means os.LookupEnv
	dotenv     map[string]string // from the .env file; nil when there is none
	dotenvPath string
}

// newEnvironment reads environ (nil for the process environment) and the
// .env file at dotenvPath ("" for none). A missing .env file is not an error.
func newEnvironment(environ []string, dotenvPath string) (*environment, []Problem, error) {
	e := &environment{}
	if environ != nil {
		e.vars = parseEnviron(environ)
	}
	if dotenvPath == "" {
		return e, nil, nil
	}
	data, err := os.ReadFile(dotenvPath)
	if os.IsNotExist(err) {
		return e, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	m, err := dotenv.Parser().Unmarshal(data)
	if err != nil {
		return e, []Problem{dotenvProblem(dotenvPath, data, err)}, nil
	}
	e.dotenv = make(map[string]string, len(m))
	e.dotenvPath = dotenvPath
	for k, v := range m {
		if s, ok := v.(string); ok {
			e.dotenv[k] = s
		}
	}
	return e, nil, nil
}

// lookup returns the value of the environment variable name.
func (e *environment) lookup(name string) (string, bool) {
	if e == nil {
		return os.LookupEnv(name)
	}
	if e.vars != nil {
		if v, ok := e.vars[name]; ok {
			return v, true
		}
	} else if v, ok := os.LookupEnv(name); ok {
		return v, true
	}
	v, ok := e.dotenv[name]
	return v, ok
}

// all returns every variable with its value and label: the .env file's
// first, overridden by the real environment's.
func (e *environment) all() map[string]envEntry {
	out := make(map[string]envEntry, len(e.dotenv))
	for k, v := range e.dotenv {
		out[k] = envEntry{value: v, label: e.dotenvPath + ": " + k, rank: rankDotenv}
	}
	vars := e.vars
	if vars == nil {
		vars = parseEnviron(os.Environ())
	}
	for k, v := range vars {
		out[k] = envEntry{value: v, label: "$" + k, rank: rankEnv}
	}
	return out
}

// envEntry is one environment variable and where it was set.
type envEntry struct {
	value string
	label string // "$NAME" or "path/.env: NAME"
	rank  int
}

// parseEnviron turns KEY=value pairs into a map; later pairs win.
func parseEnviron(environ []string) map[string]string {
	m := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k != "" {
			m[k] = v
		}
	}
	return m
}

// envKey maps a TOLLGATE_ variable name to a key path: the prefix is
// dropped, "__" separates keys, and each key is lowercased, so
// TOLLGATE_PROVIDERS__OPENAI__BASE_URL is providers.openai.base_url.
// It reports false for a variable that is not a config key.
func envKey(name string) (path string, ok bool) {
	rest, ok := strings.CutPrefix(name, envPrefix)
	if !ok || envReserved[name] {
		return "", false
	}
	parts := strings.Split(rest, "__")
	for i, p := range parts {
		parts[i] = strings.ToLower(p)
	}
	return strings.Join(parts, "."), true
}

// envName is the inverse of envKey, for messages.
func envName(path string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(path, ".", "__"))
}

// Lookup returns the value of the environment variable name: from the
// process environment (or Options.Environ when Load was given one), else
// from the .env file beside the config file. Use it for secrets named by
// the configuration, such as a provider's api_key_env.
//
// On a Config not made by Load, Lookup reads the process environment.
// Lookup is safe for concurrent use.
func (c *Config) Lookup(name string) (string, bool) {
	return c.env.lookup(name)
}

// APIKey returns the API key of the named provider, read with Lookup from
// the variable its api_key_env names. envVar is that variable's name, so a
// caller can say what to set; ok is false when the provider is unknown, has
// no api_key_env, or the variable is unset or empty.
func (c *Config) APIKey(provider string) (key, envVar string, ok bool) {
	p, found := c.Providers[provider]
	if !found || p.APIKeyEnv == "" {
		return "", "", false
	}
	v, _ := c.Lookup(p.APIKeyEnv)
	return v, p.APIKeyEnv, v != ""
}
