// Package pipeline turns the config's ordered list of stages into a compiled
// [core.Pipeline]: it looks up each stage's kind in a registry, builds it,
// and wraps it with the entry's on_error and timeout. The first stage listed
// is the outermost.
//
// Stage kinds register themselves: kind builtin is the stages in
// plugins/builtin (each registered by name); rego, wasm and process are
// registered by their plugin hosts. Import a host's package for its side
// effect to make its kind available, as the host binary does.
//
// pipeline imports only the standard library and core.
package pipeline
