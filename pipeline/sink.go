package pipeline

import (
	"fmt"
	"slices"
	"strings"

	"github.com/tollgate-dev/tollgate/core"
)

// SinkSpec is one sink entry of a tracking stage's config: its type and the
// rest of its keys.
type SinkSpec struct {
	// Type selects the factory, e.g. "jsonl" or "wasm".
	Type string
	// Config holds the entry's keys other than type.
	Config map[string]any
	// Path names the entry in error messages, e.g.
	// `pipeline[3] (track): config: sinks[1]`.
	Path string
	// Shared are the keys every sink entry takes, which the caller read
	// before building the sink; an unknown-key message names them too.
	Shared []string
}

// Decode reads the entry's keys into dst, a pointer to a struct with json
// tags. Unknown keys and wrong types are errors naming the entry and key.
func (s SinkSpec) Decode(dst any) error { return DecodeConfig(s.Path, s.Config, dst, s.Shared...) }

// SinkFactory builds a sink from its config entry.
type SinkFactory func(s SinkSpec, env Env) (core.Sink, error)

var sinks = map[string]SinkFactory{}

// RegisterSink makes a sink type available to tracking stages, e.g. "wasm".
// It panics if the type is registered twice, as that is a programming error.
func RegisterSink(typ string, f SinkFactory) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := sinks[typ]; dup {
		panic("pipeline: sink type registered twice: " + typ)
	}
	sinks[typ] = f
}

// LookupSink returns the factory registered for a sink type.
func LookupSink(typ string) (SinkFactory, bool) {
	mu.RLock()
	defer mu.RUnlock()
	f, ok := sinks[typ]
	return f, ok
}

// SinkTypes lists the registered sink types.
func SinkTypes() []string {
	mu.RLock()
	defer mu.RUnlock()
	out := make([]string, 0, len(sinks))
	for k := range sinks {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// NewSink builds the sink a spec describes from the registered factories.
func NewSink(s SinkSpec, env Env) (core.Sink, error) {
	f, ok := LookupSink(s.Type)
	if !ok {
		return nil, fmt.Errorf("%s: type: unknown sink type %q (registered: %s)", s.Path, s.Type, strings.Join(SinkTypes(), ", "))
	}
	return f(s, env)
}
