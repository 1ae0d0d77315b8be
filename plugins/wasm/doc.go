// Package wasm hosts WebAssembly plugins on wazero: stage kind wasm and sink
// type wasm, speaking ABI v1 (docs/plugin-abi.md). Import it for its side
// effect to register both.
//
// A module is pinned by sha256, rewritten once to enforce per-call
// deadlines (see instrument.go), compiled once with an on-disk compilation
// cache under the data directory, and run in a bounded pool of warm
// instances. Each plugin gets its own runtime, so its memory limit is its
// own. A trap, timeout or out-of-memory fails only the call it happened in
// (the stage's on_error decides what the call does next) and the instance
// is closed and replaced.
//
// wasm is the only package of tollgate that imports wazero.
package wasm
