// Package pluginhost is what the two plugin hosts (plugins/wasm and
// plugins/process) share beyond the ABI itself (package abi): the adapter
// from a plugin's hooks to a pipeline stage and a tracking sink, their
// registration as a stage kind and a sink type, and the sha256 pin of a
// plugin file. A host provides a [Caller] that runs one hook; everything
// between the hook and the pipeline is here, once.
package pluginhost
