package pluginhost

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/pipeline"
	"github.com/tollgate-dev/tollgate/plugins/internal/abi"
)

// Plugin is a loaded plugin as the adapter needs it.
type Plugin struct {
	Caller Caller
	// Name is the plugin's name in errors: its stage or sink name.
	Name string
	// Hooks is the bit mask of the hooks it serves.
	Hooks int
	Log   *slog.Logger
}

// Kind describes a plugin host to the pipeline: stage kind and sink type
// Name, whose config entries decode into C.
type Kind[C any] struct {
	Name string
	// Open loads the plugin a config entry describes; name is the stage or
	// sink name, and sink selects the defaults of a sink (a longer call
	// timeout). The returned plugin's Caller is closed when it is not used.
	Open func(ctx context.Context, name string, cfg C, env pipeline.Env, sink bool) (Plugin, error)
}

// Register registers k as a stage kind and a sink type. Call it from the
// host package's init.
func Register[C any](k Kind[C]) {
	pipeline.RegisterKind(k.Name, k.newStage)
	pipeline.RegisterSink(k.Name, k.newSink)
}

// newStage builds a stage from its config entry; a plugin that serves no
// stage hook is refused with what to do instead.
func (k Kind[C]) newStage(s pipeline.Spec, env pipeline.Env) (any, error) {
	var cfg C
	if err := s.Decode(&cfg); err != nil {
		return nil, err
	}
	p, err := k.Open(context.Background(), s.Name, cfg, env, false)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.Path(), err)
	}
	if p.Hooks&abi.StageHooks == 0 {
		p.Caller.Close(context.Background())
		return nil, fmt.Errorf("%s: the plugin serves hooks %v but no stage hook (request, response, stream_event): configure it as a sink of a track stage ({type: %s, ...})", s.Path(), abi.HookList(p.Hooks), k.Name)
	}
	return NewStage(p, env.Upstreams), nil
}

// newSink builds a tracking sink from its config entry; a plugin without
// the usage hook is refused.
func (k Kind[C]) newSink(s pipeline.SinkSpec, env pipeline.Env) (core.Sink, error) {
	var cfg C
	if err := s.Decode(&cfg); err != nil {
		return nil, err
	}
	p, err := k.Open(context.Background(), s.Path, cfg, env, true)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.Path, err)
	}
	if p.Hooks&abi.HookUsage == 0 {
		p.Caller.Close(context.Background())
		return nil, fmt.Errorf("%s: the plugin serves hooks %v but not usage: a sink needs a usage hook (sdk.OnUsage); use it as a stage of kind %s instead", s.Path, abi.HookList(p.Hooks), k.Name)
	}
	return NewSink(p), nil
}

// NewStage returns a pipeline stage over p: its request hook runs before
// next, its response hook on a whole answer, its stream_event hook on each
// event of a streamed one. upstreams resolve the plugin's routing choices.
// The stage owns p's Caller and closes it; it is safe for concurrent use
// if the Caller is.
func NewStage(p Plugin, upstreams map[string]*core.Upstream) core.Stage {
	log := p.Log
	if log == nil {
		log = slog.Default()
	}
	return &Stage{Caller: p.Caller, Name: p.Name, Hooks: p.Hooks, Upstreams: upstreams, Log: log}
}

// NewSink returns a tracking sink over p's usage hook. The sink owns p's
// Caller and closes it.
func NewSink(p Plugin) core.Sink { return &Sink{Caller: p.Caller, Name: p.Name} }
