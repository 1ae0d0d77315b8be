// Command vendor-tracker is an example tracking plugin, as a billing vendor
// would ship it: a WebAssembly sink that maps each usage event to the
// vendor's own JSON schema and hands it to the gateway for delivery to the
// vendor's endpoint. The gateway's outbox does the retries, crash safety and
// dead letters; the plugin only says what to send where.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o vendor-tracker.wasm .
package main

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/tollgate-dev/tollgate/plugins/sdk"
)

// config is the plugin's config (the config key of its sink entry).
type config struct {
	Endpoint string `json:"endpoint"`
	Account  string `json:"account"`
}

// vendorEvent is the vendor's schema.
type vendorEvent struct {
	EventID    string      `json:"event_id"`
	Account    string      `json:"account"`
	Customer   string      `json:"customer"`
	Product    string      `json:"product"`
	Tokens     tokens      `json:"tokens"`
	OccurredAt string      `json:"occurred_at"`
	Outcome    string      `json:"outcome"`
	Labels     labelsOrNil `json:"labels,omitempty"`
}

type tokens struct {
	Prompt     int64 `json:"prompt"`
	Completion int64 `json:"completion"`
	Cached     int64 `json:"cached"`
	Total      int64 `json:"total"`
}

type labelsOrNil map[string]string

var cfg config

func init() {
	sdk.OnUsage(func(ev *sdk.UsageEvent) error {
		if cfg.Endpoint == "" {
			if err := sdk.DecodeConfig(&cfg); err != nil || cfg.Endpoint == "" {
				return fmt.Errorf("config: endpoint is required (%v)", err)
			}
		}
		if ev.Status != "ok" && ev.TotalTokens == 0 {
			return nil // nothing billable
		}
		b, err := json.Marshal(vendorEvent{
			EventID:    ev.ID,
			Account:    cfg.Account,
			Customer:   ev.CustomerID,
			Product:    ev.Provider + "/" + ev.Model,
			Tokens:     tokens{Prompt: ev.InputTokens, Completion: ev.OutputTokens, Cached: ev.CachedInputTokens, Total: ev.TotalTokens},
			OccurredAt: ev.Timestamp.UTC().Format(time.RFC3339Nano),
			Outcome:    ev.Status,
			Labels:     ev.Metadata,
		})
		if err != nil {
			return err
		}
		return sdk.Deliver(cfg.Endpoint, b)
	})
}

func main() { sdk.Serve() }
