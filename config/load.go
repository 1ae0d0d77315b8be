package config

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"

	"github.com/go-viper/mapstructure/v2"
	"github.com/knadh/koanf/providers/confmap"
	"github.com/knadh/koanf/providers/env/v2"
	"github.com/knadh/koanf/providers/posflag"
	"github.com/knadh/koanf/v2"
	"github.com/spf13/pflag"
)

// Options says where Load reads the configuration from.
type Options struct {
	// Path is the YAML config file. Empty means the embedded default
	// alone; see Default.
	Path string
	// Flags, if not nil, is a parsed flag set. Flags given on the command
	// line override every other source; see RegisterFlags for their names.
	// Flags that are not config keys, like --config, are ignored.
	Flags *pflag.FlagSet
	// Environ is the environment as NAME=value pairs, for TOLLGATE_
	// overrides and for Config.Lookup. Nil means the process environment.
	Environ []string
}

// Load reads the configuration from the embedded default, the file at
// opts.Path, the .env file beside it, the environment and opts.Flags, in
// rising precedence, and checks it. See the package documentation for the
// keys and how each source maps onto them.
//
// # Errors
//
// When the configuration is readable but wrong, Load returns an *Error that
// lists every problem, each with its path and source. When the config file
// or the .env file cannot be read at all, it returns that I/O error,
// wrapped. No error message holds the value of a secret.
func Load(opts Options) (*Config, error) {
	dotenvPath := ""
	if opts.Path != "" {
		dotenvPath = filepath.Join(filepath.Dir(opts.Path), ".env")
	}
	environ, problems, err := newEnvironment(opts.Environ, dotenvPath)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}

	ko := koanf.New(".")
	var src sources

	def, defLines, ps := parseYAML("", defaultYAML)
	if len(ps) > 0 {
		return nil, fmt.Errorf("config: built-in default: %s", ps[0])
	}
	if err := ko.Load(confmap.Provider(def, ""), nil); err != nil {
		return nil, fmt.Errorf("config: built-in default: %w", err)
	}
	src.layers = append(src.layers, &layer{data: def, lines: defLines})

	fileOK := true
	if opts.Path != "" {
		l, ps, err := loadFile(ko, opts.Path, def)
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		problems = append(problems, ps...)
		fileOK = l != nil
		if l != nil {
			src.layers = append(src.layers, l)
		}
	}

	l, ps, err := loadEnv(ko, environ)
	if err != nil {
		return nil, fmt.Errorf("config: environment: %w", err)
	}
	problems = append(problems, ps...)
	src.layers = append(src.layers, l)

	if opts.Flags != nil {
		l, err := loadFlags(ko, opts.Flags)
		if err != nil {
			return nil, fmt.Errorf("config: flags: %w", err)
		}
		src.layers = append(src.layers, l)
	}

	raw := ko.Raw()
	// Decoded even when the file is unusable: the settings that name
	// secret variables (SecretVars) say what to keep out of the messages.
	var cfg Config
	if decoded := decode(raw, &cfg); fileOK {
		problems = append(problems, decoded...)
	}
	if len(problems) > 0 {
		for i := range problems {
			src.locate(&problems[i])
		}
		scrub(problems, secretsOf(environ, cfg.SecretVars()))
		sortProblems(problems)
		return nil, &Error{Problems: problems}
	}

	for name, p := range cfg.Providers {
		p.Name = name
		if p.Type == "" {
			p.Type = name
		}
		cfg.Providers[name] = p
	}
	cfg.env = environ
	cfg.src = &src
	return &cfg, nil
}

// loadFile merges the YAML file at path into ko. A file that sets providers
// or pipeline replaces the default's as a whole, so they are also removed
// from def, the default layer's data. It returns a nil layer when the file
// cannot be parsed.
func loadFile(ko *koanf.Koanf, path string, def map[string]any) (*layer, []Problem, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	m, lines, ps := parseYAML(path, data)
	if m == nil {
		return nil, ps, nil
	}
	for _, k := range []string{"providers", "pipeline"} {
		if _, ok := m[k]; ok {
			ko.Delete(k)
			delete(def, k)
		}
	}
	if err := ko.Load(confmap.Provider(m, ""), nil); err != nil {
		return nil, nil, err
	}
	return &layer{data: m, file: path, lines: lines, rank: rankFile}, ps, nil
}

// loadEnv merges the TOLLGATE_ variables of environ into ko. Variables with
// an empty value are ignored, as if unset.
func loadEnv(ko *koanf.Koanf, environ *environment) (*layer, []Problem, error) {
	vars := environ.all()
	var pairs []string
	for name, v := range vars {
		if strings.HasPrefix(name, envPrefix) {
			pairs = append(pairs, name+"="+v.value)
		}
	}
	l := &layer{labels: map[string]string{}, ranks: map[string]int{}}
	var problems []Problem
	p := env.Provider(".", env.Opt{
		Prefix:      envPrefix,
		EnvironFunc: func() []string { return pairs },
		TransformFunc: func(name, value string) (string, any) {
			path, ok := envKey(name)
			if !ok || value == "" {
				return "", nil
			}
			v := vars[name]
			if path == "" || strings.HasPrefix(path, ".") || strings.HasSuffix(path, ".") || strings.Contains(path, "..") {
				problems = append(problems, Problem{
					Source:  v.label,
					Message: `not a config key: separate keys with "__", as in ` + envName("log.level"),
					rank:    v.rank,
				})
				return "", nil
			}
			l.labels[path] = v.label
			l.ranks[path] = v.rank
			return path, value
		},
	})
	m, err := p.Read()
	if err != nil {
		return nil, nil, err
	}
	l.data = m
	if err := ko.Load(confmap.Provider(m, ""), nil); err != nil {
		return nil, nil, err
	}
	return l, problems, nil
}

// loadFlags merges the flags of fs that were set on the command line into ko.
func loadFlags(ko *koanf.Koanf, fs *pflag.FlagSet) (*layer, error) {
	l := &layer{labels: map[string]string{}, rank: rankFlag}
	p := posflag.ProviderWithFlag(fs, ".", nil, func(f *pflag.Flag) (string, any) {
		path, ok := flagKey(f.Name)
		if !ok {
			return "", nil
		}
		if f.Changed {
			l.labels[path] = "--" + f.Name
		}
		return path, posflag.FlagVal(fs, f)
	})
	m, err := p.Read()
	if err != nil {
		return nil, err
	}
	l.data = m
	if err := ko.Load(confmap.Provider(m, ""), nil); err != nil {
		return nil, err
	}
	return l, nil
}

// decode checks raw against the shape of Config, decodes what passed into
// cfg and validates the result, returning every problem found.
func decode(raw map[string]any, cfg *Config) []Problem {
	var c checker
	clean, _ := c.value("", raw, reflect.TypeFor[Config]())
	dec, err := mapstructure.NewDecoder(&mapstructure.DecoderConfig{
		TagName:     "koanf",
		Result:      cfg,
		ErrorUnused: true,
	})
	if err == nil {
		err = dec.Decode(clean)
	}
	if err != nil {
		// The checker lets through only what decodes; this is a bug here.
		c.add("", "cannot decode: "+err.Error())
	}
	problems := c.problems
	for _, p := range cfg.problems() {
		if !shadowed(p.Path, c.problems) {
			problems = append(problems, p)
		}
	}
	return problems
}

// shadowed reports whether a problem at path follows from one the checker
// already reported there or above it (a value of the wrong type is dropped
// and would otherwise be reported again as missing).
func shadowed(path string, checked []Problem) bool {
	for _, p := range checked {
		if p.Path == "" {
			continue
		}
		if path == p.Path || strings.HasPrefix(path, p.Path+".") || strings.HasPrefix(path, p.Path+"[") {
			return true
		}
	}
	return false
}
