package process

import (
	"context"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/pipeline"
	"github.com/tollgate-dev/tollgate/plugins/internal/pluginhost"
)

func init() {
	pluginhost.Register(pluginhost.Kind[Config]{Name: "process", Open: openEntry})
}

// openEntry starts a plugin for a pipeline stage or sink entry.
func openEntry(ctx context.Context, name string, cfg Config, env pipeline.Env, sink bool) (pluginhost.Plugin, error) {
	opts := []Option{WithLogger(env.Log)}
	if env.Deliverer != nil {
		opts = append(opts, WithDeliverer(env.Deliverer))
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

// NewStage returns a pipeline stage over a started plugin. The stage owns
// p and closes it; it is safe for concurrent use.
func NewStage(p *Plugin, name string, upstreams map[string]*core.Upstream) core.Stage {
	h := p.host()
	h.Name = name
	return pluginhost.NewStage(h, upstreams)
}

// NewSink returns a tracking sink over a started plugin's usage hook.
func NewSink(p *Plugin) core.Sink { return pluginhost.NewSink(p.host()) }

var _ pluginhost.Caller = (*Plugin)(nil)
