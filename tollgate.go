// Package tollgate assembles a ready engine from a loaded configuration: the
// wire formats, the upstreams with their keys, and the pipeline the config
// lists. It is the one-call way to embed the gateway:
//
//	cfg, err := config.Load(config.Options{Path: "tollgate.yaml"})
//	eng, err := tollgate.New(cfg, logger)
//	client := openai.NewClient(option.WithHTTPClient(&http.Client{Transport: eng.Transport()}))
//
// The host binary (cmd/host) is built on the same call.
package tollgate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sort"
	"strings"

	"github.com/tollgate-dev/tollgate/config"
	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/pipeline"
	_ "github.com/tollgate-dev/tollgate/plugins/builtin" // kind builtin
	_ "github.com/tollgate-dev/tollgate/plugins/process" // kind and sink type process
	_ "github.com/tollgate-dev/tollgate/plugins/rego"    // kind rego
	_ "github.com/tollgate-dev/tollgate/plugins/wasm"    // kind and sink type wasm
	"github.com/tollgate-dev/tollgate/providers/anthropic"
	"github.com/tollgate-dev/tollgate/providers/gemini"
	"github.com/tollgate-dev/tollgate/providers/openai"
	"github.com/tollgate-dev/tollgate/tracking"
)

// Version is the release version, stamped in at build time.
var Version = "dev"

// Formats returns every wire format tollgate speaks, in the order the
// engine tries them: Anthropic and Gemini claim their own paths first, and
// OpenAI serves the rest of /v1/.
func Formats() []core.Format {
	return []core.Format{anthropic.New(), gemini.New(), openai.New()}
}

// New builds an engine for cfg. It checks the provider keys (a malformed key
// is an error; a missing one is a warning naming the variable to set, and
// calls to that provider get an error saying the same) and builds the
// pipeline, reporting every problem at once.
func New(cfg *config.Config, log *slog.Logger, extra ...Option) (*core.Engine, error) {
	if log == nil {
		log = slog.Default()
	}
	ups, err := Upstreams(cfg, log)
	if err != nil {
		return nil, err
	}
	p, err := BuildPipeline(cfg, ups, log, extra...)
	if err != nil {
		return nil, err
	}
	opts := []core.Option{
		core.WithPipeline(p),
		core.WithFormats(Formats()...),
		core.WithLogger(log),
		core.WithCustomerHeader(cfg.Customer.Header, cfg.Customer.Missing == config.MissingReject),
		core.WithMetadataPrefix(cfg.Customer.MetadataHeaderPrefix),
		core.WithMaxBodyBytes(cfg.Server.MaxBodyBytes),
	}
	for _, name := range defaultsFirst(cfg.Providers) {
		opts = append(opts, core.WithUpstream(ups[name]))
	}
	opts = append(opts, collect(extra).engine...)
	return core.New(opts...), nil
}

// BuildPipeline builds the config's pipeline over the given upstreams.
func BuildPipeline(cfg *config.Config, ups map[string]*core.Upstream, log *slog.Logger, extra ...Option) (*core.Pipeline, error) {
	specs := pipelineSpecs(cfg)
	env := pipelineEnv(cfg, ups, log)
	env.Instrument = collect(extra).instrument
	// Plugins' deliveries and decision logs go through the durable outbox;
	// the built pipeline closes the Deliverer after its stages.
	var deliverer *tracking.Deliverer
	if cfg.DataDir != "" {
		deliverer = tracking.NewDeliverer(cfg.DataDir, tracking.DelivererConfig{Log: log})
		env.Deliverer = deliverer
	}
	shareState(cfg, specs, &env, log)
	refs := checkSinkRefs(specs, cfg.Source)
	p, err := pipeline.Build(specs, env)
	if err != nil || refs != nil {
		if p != nil {
			p.Close(context.Background())
		}
		return nil, errors.Join(err, refs)
	}
	if deliverer != nil {
		if err := deliverer.Resume(); err != nil {
			log.Error("plugin deliveries left by an earlier run cannot be resumed", "err", err)
		}
	}
	return p, nil
}

// CheckPipeline builds the config's pipeline as `tollgate validate` does:
// every stage checks its config, and none opens files, stores or
// connections (a running gateway may hold them).
func CheckPipeline(cfg *config.Config, ups map[string]*core.Upstream, log *slog.Logger) error {
	specs := pipelineSpecs(cfg)
	env := pipelineEnv(cfg, ups, log)
	env.CheckOnly = true
	shareState(cfg, specs, &env, log)
	p, err := pipeline.Build(specs, env)
	if err == nil {
		p.Close(context.Background())
	}
	return errors.Join(err, checkSinkRefs(specs, cfg.Source))
}

// pipelineSpecs are the config's pipeline entries.
func pipelineSpecs(cfg *config.Config) []pipeline.Spec {
	specs := make([]pipeline.Spec, len(cfg.Pipeline))
	for i, s := range cfg.Pipeline {
		specs[i] = pipeline.Spec{Name: s.Name, Kind: s.Kind, Config: s.Config, OnError: s.OnError, Timeout: s.Timeout, Index: i}
	}
	return specs
}

// pipelineEnv is what the config gives stages: the data directory, the
// upstreams, the variables it names (tracker tokens) and the usage ledger.
func pipelineEnv(cfg *config.Config, ups map[string]*core.Upstream, log *slog.Logger) pipeline.Env {
	return pipeline.Env{Log: log, DataDir: cfg.DataDir, Upstreams: ups, Lookup: cfg.Lookup,
		Spend: tracking.SpendReader(cfg.DataDir), Source: cfg.Source}
}

// keyPrefixes are the prefixes provider keys have had; another prefix is
// only a warning, as key formats change.
var keyPrefixes = map[string][]string{
	config.TypeOpenAI:    {"sk-"},
	config.TypeAnthropic: {"sk-ant-"},
	config.TypeGemini:    {"AIza"},
}

// Upstreams builds the configured upstreams and checks their keys.
func Upstreams(cfg *config.Config, log *slog.Logger) (map[string]*core.Upstream, error) {
	ups := make(map[string]*core.Upstream, len(cfg.Providers))
	var errs []error
	for _, name := range sortedNames(cfg.Providers) {
		p := cfg.Providers[name]
		base, err := url.Parse(strings.TrimSuffix(p.BaseURL, "/"))
		if err != nil {
			errs = append(errs, fmt.Errorf("providers.%s.base_url: %v", name, err))
			continue
		}
		key, env, _ := cfg.APIKey(name)
		if err := checkKey(name, p.Type, key, env, log); err != nil {
			errs = append(errs, err)
			continue
		}
		ups[name] = newUpstream(name, p, base, key, env)
	}
	return ups, errors.Join(errs...)
}

// newUpstream builds one upstream: its format, its model patterns, and the
// Azure dialect for type azure. A version path an Anthropic or Gemini base
// URL ends in is dropped: their calls carry it.
func newUpstream(name string, p config.Provider, base *url.URL, key, env string) *core.Upstream {
	format := p.Type
	switch p.Type {
	case config.TypeAzure:
		format = config.TypeOpenAI
	case config.TypeAnthropic:
		base.Path = strings.TrimSuffix(base.Path, "/v1")
	case config.TypeGemini:
		base.Path = strings.TrimSuffix(strings.TrimSuffix(base.Path, "/v1beta"), "/v1")
	}
	u := core.NewUpstream(name, format, base, key, env)
	u.Models = p.Models
	if p.Type == config.TypeAzure {
		u.Dialect = &openai.Azure{APIVersion: p.APIVersion, Deployments: p.Deployments}
	}
	return u
}

// checkKey refuses a key that cannot work and warns about a missing or
// unusual one. The key itself never appears in a message.
func checkKey(name, typ, key, env string, log *slog.Logger) error {
	if env == "" {
		return nil // the upstream needs no key
	}
	if key == "" {
		log.Warn("no API key for provider; calls to it will fail until you set the variable (or try `tollgate mock`)",
			"provider", name, "variable", env)
		return nil
	}
	if strings.ContainsAny(key, " \t\r\n") {
		return fmt.Errorf("providers.%s: the API key in %s contains whitespace or a newline; check how it was set", name, env)
	}
	for _, p := range keyPrefixes[typ] {
		if strings.HasPrefix(key, p) {
			return nil
		}
	}
	if prefixes := keyPrefixes[typ]; len(prefixes) > 0 {
		log.Warn("API key does not start with the usual prefix; using it anyway", "provider", name, "variable", env, "expected_prefix", prefixes[0])
	}
	return nil
}

// defaultsFirst orders provider names so that a provider named after its
// type comes first: it is that wire format's default upstream.
func defaultsFirst(m map[string]config.Provider) []string {
	names := sortedNames(m)
	named := func(n string) bool { return n == m[n].Type && n != config.TypeAzure } // azure speaks openai
	sort.SliceStable(names, func(i, j int) bool { return named(names[i]) && !named(names[j]) })
	return names
}

func sortedNames(m map[string]config.Provider) []string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}
