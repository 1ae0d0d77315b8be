package ratelimit

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/pipeline"
	"github.com/tollgate-dev/tollgate/plugins/builtin/internal/shared"
)

// Config configures the ratelimit stage. The short form sets one limit per
// customer:
//
//	{requests_per_minute: 600, tokens_per_minute: 200000}
//
// Limits lists more, each with its own key and window. Besides these, the
// stage applies each virtual key's own limits to the calls made with it
// (KeyLimits), so that an entry with no config at all,
// {name: ratelimit, kind: builtin}, enforces only those.
type Config struct {
	// RequestsPerMinute, TokensPerMinute and Concurrent set one limit keyed
	// by Key over a one-minute window; 0 leaves that dimension unlimited.
	RequestsPerMinute int64  `json:"requests_per_minute"`
	TokensPerMinute   int64  `json:"tokens_per_minute"`
	Concurrent        int64  `json:"concurrent"`
	Key               string `json:"key"`
	// Limits are further limits.
	Limits []Limit `json:"limits"`
	// Backend is memory or redis; empty picks redis when the config has a
	// redis section, else memory.
	Backend string `json:"backend"`
	// DefaultOutputTokens is the output a call is assumed to ask for when
	// its body sets no max_tokens (or the format's equivalent), for the
	// token estimate taken before the call (default 1024).
	DefaultOutputTokens int64 `json:"default_output_tokens"`
	// LeaseTTL is how long a concurrency slot held by a replica that died
	// mid-call stays taken in Redis (default 10m).
	LeaseTTL pipeline.Duration `json:"lease_ttl"`
	// KeyLimits applies each virtual key's own limits (`tollgate keys
	// create --rpm, --tpm, --monthly-budget`, core.Principal.Limits) to the
	// calls made with it, on top of the limits above (default true).
	KeyLimits *bool `json:"key_limits"`
	// BudgetRefresh is how long a customer's spend this month, read for a
	// key's monthly budget, is reused before it is read again (default 1s).
	BudgetRefresh pipeline.Duration `json:"budget_refresh"`
}

// Limit is one limit: a number of requests and of tokens per window, and of
// calls in flight, for each value of its key.
type Limit struct {
	// Key says whose calls share the limit: customer (the default), global
	// (every call), or metadata.NAME (calls with the same value of that
	// metadata tag; calls without the tag are not limited by it).
	Key string `json:"key"`
	// Requests and Tokens are per Window; Concurrent is at any moment.
	Requests   int64 `json:"requests"`
	Tokens     int64 `json:"tokens"`
	Concurrent int64 `json:"concurrent"`
	// Window is the period Requests and Tokens are counted over (default 1m).
	Window pipeline.Duration `json:"window"`
}

// Key kinds.
const (
	KeyCustomer = "customer"
	KeyGlobal   = "global"
	keyMetadata = "metadata."
)

// limits returns every limit the config sets, short form first, checked and
// with defaults filled in. None is an error unless keyLimits: the stage
// then enforces only the virtual keys' limits.
func (c *Config) limits(path string, keyLimits bool) ([]Limit, error) {
	var out []Limit
	if c.RequestsPerMinute != 0 || c.TokensPerMinute != 0 || c.Concurrent != 0 {
		out = append(out, Limit{Key: c.Key, Requests: c.RequestsPerMinute, Tokens: c.TokensPerMinute,
			Concurrent: c.Concurrent, Window: pipeline.Duration(time.Minute)})
	} else if c.Key != "" {
		return nil, fmt.Errorf("%s: config: key: set requests_per_minute, tokens_per_minute or concurrent with it", path)
	}
	out = append(out, c.Limits...)
	if len(out) == 0 {
		if keyLimits {
			return nil, nil
		}
		return nil, fmt.Errorf("%s: config: no limit set and key_limits is false: add requests_per_minute, tokens_per_minute, concurrent or limits, e.g. {requests_per_minute: 600, tokens_per_minute: 200000}, or drop key_limits: false to enforce the virtual keys' own limits", path)
	}
	short := c.RequestsPerMinute != 0 || c.TokensPerMinute != 0 || c.Concurrent != 0
	var errs []error
	for i := range out {
		l := &out[i]
		where := path + ": config"
		if j := i - btoi(short); j >= 0 {
			where = fmt.Sprintf("%s: config: limits[%d]", path, j)
		}
		if l.Key == "" {
			l.Key = KeyCustomer
		}
		if l.Window == 0 {
			l.Window = pipeline.Duration(time.Minute)
		}
		switch {
		case l.Key == KeyCustomer, l.Key == KeyGlobal:
		case strings.HasPrefix(l.Key, keyMetadata) && len(l.Key) > len(keyMetadata):
			l.Key = keyMetadata + strings.ToLower(l.Key[len(keyMetadata):]) // metadata names are lowercased at ingress
		default:
			errs = append(errs, fmt.Errorf("%s: key: want customer, global or metadata.NAME, got %q", where, l.Key))
		}
		if l.Requests < 0 || l.Tokens < 0 || l.Concurrent < 0 {
			errs = append(errs, fmt.Errorf("%s: limits must not be negative", where))
		}
		if l.Requests == 0 && l.Tokens == 0 && l.Concurrent == 0 {
			errs = append(errs, fmt.Errorf("%s: set requests, tokens or concurrent", where))
		}
		if l.Window < pipeline.Duration(time.Millisecond) {
			errs = append(errs, fmt.Errorf("%s: window: want at least 1ms, got %s", where, time.Duration(l.Window)))
		}
	}
	return out, errors.Join(errs...)
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func newStage(s pipeline.Spec, env pipeline.Env) (any, error) {
	cfg := Config{DefaultOutputTokens: 1024, LeaseTTL: pipeline.Duration(10 * time.Minute), BudgetRefresh: pipeline.Duration(time.Second)}
	if err := s.Decode(&cfg); err != nil {
		return nil, err
	}
	keyLimits := cfg.KeyLimits == nil || *cfg.KeyLimits
	limits, err := cfg.limits(s.Path(), keyLimits)
	if err != nil {
		return nil, err
	}
	if cfg.DefaultOutputTokens < 0 || cfg.LeaseTTL <= 0 {
		return nil, fmt.Errorf("%s: config: default_output_tokens must not be negative and lease_ttl must be positive", s.Path())
	}
	store, err := shared.Open(s, env, cfg.Backend)
	if err != nil {
		return nil, err
	}
	var b backend = newMemory()
	if store != nil {
		b = store
	}
	log := env.Log
	if log == nil {
		log = slog.Default()
	}
	r := &RateLimit{name: s.Name, limits: limits, backend: b, store: store, mode: shared.NewMode(s, store),
		defaultOutput: cfg.DefaultOutputTokens, leaseTTL: time.Duration(cfg.LeaseTTL), log: log,
		prefixes: keyPrefixes(s.Name, limits, store)}
	if keyLimits {
		r.keys = &keyLimiter{prefixes: keyLimitPrefixes(s.Name, store), spend: env.Spend,
			cache: spendCache{ttl: time.Duration(cfg.BudgetRefresh)}}
		if len(limits) == 0 && !env.CheckOnly {
			log.Info("the ratelimit stage has no limits of its own: it enforces the virtual keys' limits only", "stage", s.Name)
		}
	}
	return r, nil
}

func init() { pipeline.RegisterBuiltin("ratelimit", newStage) }
