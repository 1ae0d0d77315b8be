// Command model-router is an example routing stage: it picks the model and
// the upstream of a call from its metadata (X-Tollgate-Meta-* headers or
// tags set by the library), by a first-match list of routes in its config.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o model-router.wasm .
package main

import (
	"github.com/tollgate-dev/tollgate/plugins/sdk"
)

// route sends calls whose metadata has every key/value of Match to Model
// and/or Upstream.
type route struct {
	Match    map[string]string `json:"match"`
	Model    string            `json:"model"`
	Upstream string            `json:"upstream"`
}

type config struct {
	Routes []route `json:"routes"`
}

var (
	cfg    config
	loaded bool
)

func matches(rt route, r *sdk.Request) bool {
	for k, v := range rt.Match {
		if r.Meta(k) != v {
			return false
		}
	}
	return true
}

func init() {
	sdk.OnRequest(func(r *sdk.Request) sdk.Action {
		if !loaded {
			if err := sdk.DecodeConfig(&cfg); err != nil {
				return sdk.Fail("%v", err)
			}
			loaded = true
		}
		for _, rt := range cfg.Routes {
			if !matches(rt, r) {
				continue
			}
			if rt.Model != "" && rt.Model != r.Model {
				r.SetModel(rt.Model)
			}
			if rt.Upstream != "" {
				r.SetUpstream(rt.Upstream)
			}
			r.SetMetadata("routed_by", "model-router")
			break
		}
		return sdk.Continue()
	})
}

func main() { sdk.Serve() }
