package pluginhost

import (
	"encoding/json"
	"fmt"
	"log/slog"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/plugins/internal/abi"
)

// Prepared is what both hosts set up before they load a plugin.
type Prepared struct {
	Log     *slog.Logger   // tagged with the plugin's name
	Deliver core.Deliverer // the given one, or a direct POST without one
	Config  []byte         // the plugin's own config as JSON; {} without one
}

// Prepare fills in a plugin's logger and deliverer and encodes its config
// (what the config host function hands it).
func Prepare(name string, log *slog.Logger, d core.Deliverer, config any) (Prepared, error) {
	if log == nil {
		log = slog.Default()
	}
	p := Prepared{Log: log.With("plugin", name), Deliver: d, Config: []byte("{}")}
	if p.Deliver == nil {
		p.Deliver = abi.NewDirectDeliverer(p.Log)
	}
	if config != nil {
		b, err := json.Marshal(config)
		if err != nil {
			return p, fmt.Errorf("config: %w", err)
		}
		p.Config = b
	}
	return p, nil
}
