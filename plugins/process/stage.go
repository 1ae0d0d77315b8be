package process

import (
	"context"
	"fmt"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/pipeline"
	"github.com/tollgate-dev/tollgate/plugins/internal/abi"
)

func init() {
	pipeline.RegisterKind("process", newStage)
	pipeline.RegisterSink("process", newSink)
}

func newStage(s pipeline.Spec, env pipeline.Env) (any, error) {
	var cfg Config
	if err := s.Decode(&cfg); err != nil {
		return nil, err
	}
	p, err := Open(context.Background(), s.Name, cfg, envOptions(env)...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.Path(), err)
	}
	if p.hooks&abi.StageHooks == 0 {
		p.Close(context.Background())
		return nil, fmt.Errorf("%s: the plugin serves hooks %v but no stage hook (request, response, stream_event): configure it as a sink of a track stage ({type: process, ...})", s.Path(), p.Hooks())
	}
	return NewStage(p, s.Name, env.Upstreams), nil
}

func newSink(s pipeline.SinkSpec, env pipeline.Env) (core.Sink, error) {
	var cfg Config
	if err := s.Decode(&cfg); err != nil {
		return nil, err
	}
	p, err := Open(context.Background(), s.Path, cfg, append(envOptions(env), asSink())...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.Path, err)
	}
	if p.hooks&abi.HookUsage == 0 {
		p.Close(context.Background())
		return nil, fmt.Errorf("%s: the plugin serves hooks %v but not usage: a sink needs a usage hook (sdk.OnUsage)", s.Path, p.Hooks())
	}
	return NewSink(p), nil
}

func envOptions(env pipeline.Env) []Option {
	opts := []Option{WithLogger(env.Log)}
	if env.Deliverer != nil {
		opts = append(opts, WithDeliverer(env.Deliverer))
	}
	return opts
}

// NewStage returns a pipeline stage over a started plugin. The stage owns
// p and closes it; it is safe for concurrent use.
func NewStage(p *Plugin, name string, upstreams map[string]*core.Upstream) core.Stage {
	return &abi.Stage{Caller: p, Name: name, Hooks: p.hooks, Upstreams: upstreams, Log: p.log}
}

// NewSink returns a tracking sink over a started plugin's usage hook.
func NewSink(p *Plugin) core.Sink { return &abi.Sink{Caller: p, Name: p.name} }
