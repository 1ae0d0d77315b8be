// Package sinks holds the built-in usage sinks — jsonl (a file with
// size-based rotation), http (a tracker endpoint) and stdout — and registers
// them with the pipeline's sink registry under those type names, so that a
// track stage can name them in its config. Plugin hosts register more
// (wasm, process) the same way.
//
// A sink only writes: batching, retries, backoff and dead letters are the
// outbox's work (package tracking), the same for every sink.
package sinks
