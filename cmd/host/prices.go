package main

import (
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/tollgate-dev/tollgate/config"
	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/pipeline"
	"github.com/tollgate-dev/tollgate/tracking/pricing"
)

// trackPrices is the price table the usage events of cfg are priced at:
// the built-in table with the pricing overrides of the track stage that
// feeds the usage ledger (the first track entry without ledger: false, else
// the first track entry). The cost metric uses it, so that
// tollgate_cost_usd_total agrees with the cost of the usage events and the
// ledger that billing reads.
func trackPrices(cfg *config.Config, log *slog.Logger) (*pricing.Table, error) {
	var stage *config.Stage
	for i := range cfg.Pipeline {
		s := &cfg.Pipeline[i]
		if s.Kind != pipeline.KindBuiltin || pipeline.BuiltinName(s.Name) != "track" {
			continue
		}
		if stage == nil {
			stage = s
		}
		if ledger, ok := s.Config["ledger"].(bool); !ok || ledger {
			stage = s
			break
		}
	}
	var overrides pricing.Prices
	if stage != nil && stage.Config["pricing"] != nil {
		// Read as the track stage reads its config: through JSON.
		raw, err := json.Marshal(stage.Config["pricing"])
		if err == nil {
			err = json.Unmarshal(raw, &overrides)
		}
		if err != nil {
			return nil, fmt.Errorf("pipeline stage %s: config: pricing: %w", stage.Name, err)
		}
	}
	return pricing.NewTable(overrides, log)
}

// setPrices makes the cost metric price calls as cfg's track stage does.
// A table that cannot be built (the pipeline would not build either) keeps
// the one in force.
func (o *ops) setPrices(cfg *config.Config) error {
	t, err := trackPrices(cfg, o.log)
	if err != nil {
		return err
	}
	o.prices.Store(t)
	return nil
}

// cost prices a call's usage as the track stage prices its usage event.
func cost(t *pricing.Table, o *core.Outcome) (core.USD, bool) {
	r := o.Request
	var up, prov string
	if r.Upstream != nil {
		up = r.Upstream.Name
	}
	if r.Format != nil {
		prov = r.Format.Name()
	}
	return t.Price(r.Model, up, prov, o.Usage)
}
