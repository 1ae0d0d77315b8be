// Package process hosts native plugins: executables that tollgate starts
// and talks to over gRPC with hashicorp/go-plugin (stage kind process, sink
// type process). A process plugin speaks the same hook documents as a
// WebAssembly one (docs/plugin-abi.md) over a two-method gRPC service,
// after a go-plugin handshake with a negotiated protocol version. The
// binary is pinned by sha256 and checked again at every start; the channel
// uses go-plugin's automatic mutual TLS; the plugin gets no environment
// variable unless granted. A plugin that crashes is restarted with
// exponential backoff, and until it is back its stage follows on_error.
//
// Plugin authors do not use this package directly: they write hooks with
// plugins/sdk and call sdk.Serve from main.
//
// process is the only package of tollgate that imports go-plugin and gRPC.
package process
