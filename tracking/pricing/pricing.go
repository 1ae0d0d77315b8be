// Package pricing holds the price table per provider and model and computes
// a call's cost from its token counts, exactly: prices are whole
// microdollars per million tokens, so each token costs a whole number of
// picodollars ([core.USD]) and no step rounds.
//
// The built-in table is prices.yaml, embedded; the track stage's `pricing`
// config replaces or adds entries.
package pricing

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"

	"github.com/tollgate-dev/tollgate/core"
)

//go:embed prices.yaml
var builtinYAML []byte

// Rate is a price in dollars per million tokens. It is read from YAML or
// JSON as an exact decimal with at most 6 decimal places (one microdollar
// per million tokens, which is one picodollar per token).
type Rate struct {
	perMillion core.USD
	set        bool
}

// NewRate parses a decimal such as "2.50".
func NewRate(s string) (Rate, error) {
	if strings.ContainsAny(s, "eE") { // a float marshalled as 1e-05
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			s = strconv.FormatFloat(f, 'f', -1, 64)
		}
	}
	v, err := core.ParseUSD(s)
	if err != nil {
		return Rate{}, fmt.Errorf("price %q: want dollars per million tokens, like 2.50", s)
	}
	if v < 0 {
		return Rate{}, fmt.Errorf("price %q: must not be negative", s)
	}
	if v%core.Microdollar != 0 {
		return Rate{}, fmt.Errorf("price %q: at most 6 decimal places (a microdollar per million tokens)", s)
	}
	return Rate{perMillion: v, set: true}, nil
}

// PerMillion is the price of a million tokens.
func (r Rate) PerMillion() core.USD { return r.perMillion }

// IsSet reports whether the rate was given.
func (r Rate) IsSet() bool { return r.set }

// perToken is the price of one token: exact, as the rate is whole
// microdollars per million.
func (r Rate) perToken() core.USD { return r.perMillion / 1_000_000 }

// UnmarshalYAML reads the scalar's literal text, never a float.
func (r *Rate) UnmarshalYAML(n *yaml.Node) error {
	v, err := NewRate(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*r = v
	return nil
}

// UnmarshalJSON reads a JSON number or string.
func (r *Rate) UnmarshalJSON(b []byte) error {
	v, err := NewRate(strings.Trim(string(b), `"`))
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// MarshalJSON writes the rate in dollars per million tokens.
func (r Rate) MarshalJSON() ([]byte, error) { return []byte(r.perMillion.String()), nil }

// Price is one model's prices per million tokens. Input and Output are
// required; CachedInput and CacheWrite default to Input, Reasoning to
// Output.
type Price struct {
	Input       Rate `json:"input" yaml:"input"`
	Output      Rate `json:"output" yaml:"output"`
	CachedInput Rate `json:"cached_input" yaml:"cached_input"`
	CacheWrite  Rate `json:"cache_write" yaml:"cache_write"`
	Reasoning   Rate `json:"reasoning" yaml:"reasoning"`
}

// check reports a price missing its required rates.
func (p Price) check() error {
	switch {
	case !p.Input.set:
		return fmt.Errorf("input: required")
	case !p.Output.set:
		return fmt.Errorf("output: required (0 for a model that produces none)")
	}
	return nil
}

// Cost is what a call with these token counts costs. input counts every
// input token, cachedInput and cacheWrite included; output counts every
// output token, reasoning included (as in [core.Usage]). Counts that do not
// add up are clamped, never negative.
func (p Price) Cost(input, cachedInput, cacheWrite, output, reasoning int64) core.USD {
	cached, write, reason := p.CachedInput, p.CacheWrite, p.Reasoning
	if !cached.set {
		cached = p.Input
	}
	if !write.set {
		write = p.Input
	}
	if !reason.set {
		reason = p.Output
	}
	cachedInput, cacheWrite = max(cachedInput, 0), max(cacheWrite, 0)
	plainIn := max(input-cachedInput-cacheWrite, 0)
	reasoning = max(min(reasoning, output), 0)
	plainOut := max(output-reasoning, 0)
	// saturating: counts an upstream reports are not trusted to be sane,
	// and a wrapped product would be a negative cost
	var cost core.USD
	for _, part := range [...]struct {
		n    int64
		rate Rate
	}{{plainIn, p.Input}, {cachedInput, cached}, {cacheWrite, write}, {plainOut, p.Output}, {reasoning, reason}} {
		cost = core.SaturatingAdd(cost, core.SaturatingMul(core.USD(part.n), part.rate.perToken()))
	}
	return cost
}

// Prices maps provider → model → price.
type Prices map[string]map[string]Price

// Parse reads a price table in the prices.yaml format.
func Parse(data []byte) (Prices, error) {
	var ps Prices
	if err := yaml.Unmarshal(data, &ps); err != nil {
		return nil, fmt.Errorf("pricing: %w", err)
	}
	return ps, ps.Check()
}

// Check reports every entry missing a required rate.
func (ps Prices) Check() error {
	var errs []string
	for prov, models := range ps {
		for model, p := range models {
			if err := p.check(); err != nil {
				errs = append(errs, fmt.Sprintf("%s.%s.%v", prov, model, err))
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("pricing: %s", strings.Join(errs, "; "))
	}
	return nil
}

// Builtin returns the embedded price table.
func Builtin() Prices {
	ps, err := Parse(builtinYAML)
	if err != nil {
		panic("pricing: the embedded prices.yaml is invalid: " + err.Error())
	}
	return ps
}

// Table looks prices up and applies them to usage events. It is safe for
// concurrent use.
type Table struct {
	prices Prices
	log    *slog.Logger
	warned sync.Map // "provider/model" → struct{}
}

// NewTable returns the built-in prices with overrides applied: an override
// replaces the built-in entry for its provider and model, or adds one.
func NewTable(overrides Prices, log *slog.Logger) (*Table, error) {
	if err := overrides.Check(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.Default()
	}
	ps := Builtin()
	for prov, models := range overrides {
		if ps[prov] == nil {
			ps[prov] = map[string]Price{}
		}
		for model, p := range models {
			ps[prov][model] = p
		}
	}
	return &Table{prices: ps, log: log}, nil
}

// suffix matches the date or version a provider appends to a model name.
var suffix = regexp.MustCompile(`-(\d{4}-\d{2}-\d{2}|\d{8}|\d{3}|latest)$`)

// Lookup finds a model's price under each of providers in turn (the
// upstream's name, then the wire format's): the exact name first, then the
// name without a date or version suffix.
func (t *Table) Lookup(model string, providers ...string) (Price, bool) {
	model = strings.TrimPrefix(model, "models/")
	if p, ok := t.lookup(model, providers); ok {
		return p, true
	}
	// The regexp only on a miss: most calls name a model exactly.
	if base := suffix.ReplaceAllString(model, ""); base != model {
		return t.lookup(base, providers)
	}
	return Price{}, false
}

func (t *Table) lookup(name string, providers []string) (Price, bool) {
	for _, prov := range providers {
		if p, ok := t.prices[prov][name]; ok && prov != "" {
			return p, true
		}
	}
	return Price{}, false
}

// Apply sets ev.Cost from its tokens. A model with no price leaves Cost
// nil and logs one warning per provider and model.
func (t *Table) Apply(ev *core.UsageEvent) {
	c, ok := t.Price(ev.Model, ev.Upstream, ev.Provider, core.Usage{InputTokens: ev.InputTokens,
		CachedInputTokens: ev.CachedInputTokens, CacheWriteTokens: ev.CacheWriteTokens,
		OutputTokens: ev.OutputTokens, ReasoningTokens: ev.ReasoningTokens})
	if !ok {
		if ev.Model != "" && ev.TotalTokens > 0 {
			key := ev.Provider + "/" + ev.Model
			if _, seen := t.warned.LoadOrStore(key, struct{}{}); !seen {
				t.log.Warn("no price for this model: its usage events carry no cost (warned once); add it under the track stage's pricing",
					"provider", ev.Provider, "upstream", ev.Upstream, "model", ev.Model)
			}
		}
		return
	}
	ev.Cost = &c
}

// Price is what usage u of model cost, looked up as Apply looks it up
// (under the upstream's name, then the wire format's); false when the
// model has no price. The cost metric prices calls with it, so that it
// agrees with the usage events.
func (t *Table) Price(model, upstream, provider string, u core.Usage) (core.USD, bool) {
	p, ok := t.Lookup(model, upstream, provider)
	if !ok {
		return 0, false
	}
	return p.Cost(u.InputTokens, u.CachedInputTokens, u.CacheWriteTokens, u.OutputTokens, u.ReasoningTokens), true
}

// JSON returns the table as JSON, for reports.
func (t *Table) JSON() ([]byte, error) { return json.Marshal(t.prices) }
