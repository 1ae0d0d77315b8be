package wasm

import (
	"context"
	"path/filepath"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/pipeline"
	"github.com/tollgate-dev/tollgate/plugins/internal/pluginhost"
)

// openEntry loads a plugin for a pipeline stage or sink entry.
func openEntry(ctx context.Context, name string, cfg Config, env pipeline.Env, sink bool) (pluginhost.Plugin, error) {
	opts := []Option{WithLogger(env.Log)}
	if env.Deliverer != nil {
		opts = append(opts, WithDeliverer(env.Deliverer))
	}
	if env.DataDir != "" {
		opts = append(opts, WithCacheDir(filepath.Join(env.DataDir, "wasm-cache")))
	}
	if sink {
		opts = append(opts, asSink())
	}
	p, err := Open(ctx, name, cfg, opts...)
	if err != nil {
		return pluginhost.Plugin{}, err
	}
	return p.host(), nil
}

// host is the plugin as the shared stage and sink adapter sees it.
func (p *Plugin) host() pluginhost.Plugin {
	return pluginhost.Plugin{Caller: p, Name: p.name, Hooks: p.hooks, Log: p.log}
}

// NewStage returns a pipeline stage over a loaded plugin: its request hook
// runs before next, its response hook on a whole answer, its stream_event
// hook on each event of a streamed one. upstreams resolve the plugin's
// routing choices. The stage owns p and closes it; it is safe for
// concurrent use.
func NewStage(p *Plugin, name string, upstreams map[string]*core.Upstream) core.Stage {
	h := p.host()
	h.Name = name
	return pluginhost.NewStage(h, upstreams)
}

// NewSink returns a tracking sink over a loaded plugin's usage hook. The
// sink owns p and closes it.
func NewSink(p *Plugin) core.Sink { return pluginhost.NewSink(p.host()) }

var _ pluginhost.Caller = (*Plugin)(nil)
