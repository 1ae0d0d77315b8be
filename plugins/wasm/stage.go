package wasm

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/pipeline"
	"github.com/tollgate-dev/tollgate/plugins/internal/abi"
)

// newStage builds a stage of kind wasm from its config entry.
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
		return nil, fmt.Errorf("%s: the plugin serves hooks %v but no stage hook (request, response, stream_event): configure it as a sink of a track stage ({type: wasm, ...})", s.Path(), p.Hooks())
	}
	return NewStage(p, s.Name, env.Upstreams), nil
}

// newSink builds a tracking sink of type wasm from its config entry.
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
		return nil, fmt.Errorf("%s: the plugin serves hooks %v but not usage: a sink needs a usage hook (sdk.OnUsage); use it as a stage of kind wasm instead", s.Path, p.Hooks())
	}
	return NewSink(p), nil
}

// envOptions are the plugin options a pipeline environment gives.
func envOptions(env pipeline.Env) []Option {
	opts := []Option{WithLogger(env.Log)}
	if env.Deliverer != nil {
		opts = append(opts, WithDeliverer(env.Deliverer))
	}
	if env.DataDir != "" {
		opts = append(opts, WithCacheDir(filepath.Join(env.DataDir, "wasm-cache")))
	}
	return opts
}

// NewStage returns a pipeline stage over a loaded plugin: its request hook
// runs before next, its response hook on a whole answer, its stream_event
// hook on each event of a streamed one. upstreams resolve the plugin's
// routing choices. The stage owns p and closes it; it is safe for
// concurrent use.
func NewStage(p *Plugin, name string, upstreams map[string]*core.Upstream) core.Stage {
	return &abi.Stage{Caller: p, Name: name, Hooks: p.hooks, Upstreams: upstreams, Log: p.log}
}

// NewSink returns a tracking sink over a loaded plugin's usage hook. The
// sink owns p and closes it.
func NewSink(p *Plugin) core.Sink { return &abi.Sink{Caller: p, Name: p.name} }

var _ abi.Caller = (*Plugin)(nil)
