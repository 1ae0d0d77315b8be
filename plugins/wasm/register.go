package wasm

import "github.com/tollgate-dev/tollgate/plugins/internal/pluginhost"

func init() {
	pluginhost.Register(pluginhost.Kind[Config]{Name: "wasm", Open: openEntry})
}
