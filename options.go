package tollgate

import (
	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/pipeline"
)

// Option adds to what [New] and [BuildPipeline] build: how the host
// observes and guards the engine.
type Option func(*options)

type options struct {
	instrument pipeline.Instrument
	engine     []core.Option
}

// WithInstrument observes every stage of the pipeline, e.g. the metrics
// package times each stage and the tracer gives each a span.
func WithInstrument(i pipeline.Instrument) Option { return func(o *options) { o.instrument = i } }

// WithEngineOptions passes options to the engine [New] builds: observers,
// an authenticator.
func WithEngineOptions(opts ...core.Option) Option {
	return func(o *options) { o.engine = append(o.engine, opts...) }
}

func collect(opts []Option) options {
	var o options
	for _, f := range opts {
		f(&o)
	}
	return o
}
