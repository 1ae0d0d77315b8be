// Package sdk is what a tollgate plugin author imports: a handful of typed
// functions over ABI v1 (docs/plugin-abi.md) that hide memory, pointers and
// serialization. The same source builds two ways:
//
//   - as a WebAssembly plugin, with standard Go (no TinyGo):
//     GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o plugin.wasm .
//   - as a native process plugin (stage kind process), with go build.
//
// Register hooks in an init function, and call [Serve] from main (it
// returns at once in a WebAssembly build, where main never runs):
//
//	func init() {
//		sdk.OnRequest(func(r *sdk.Request) sdk.Action {
//			if r.Meta("team") == "" {
//				return sdk.Deny(403, "no_team", "tag the call with X-Tollgate-Meta-Team")
//			}
//			return sdk.Continue()
//		})
//	}
//
//	func main() { sdk.Serve() }
//
// # Execution model
//
// A plugin instance runs one hook at a time; the host keeps a pool of
// instances, so package state is per instance and must not be relied on to
// see every call. Hooks must return promptly: the host enforces a per-call
// deadline and replaces an instance that overruns it, traps or runs out of
// memory.
//
// # Cost
//
// The SDK decodes documents without reflection and reads a call's body,
// headers and tags only when the hook asks for them (Body, Header, Meta);
// a warm request hook call costs about 5 µs before the hook's own code
// (docs/benchmarks.md). It reuses the document it hands a hook for the next
// call: use a Request during its hook call, and keep what you read from it,
// not the pointer. Go compiled to WebAssembly runs several times slower than
// native code; decoding a whole body with encoding/json costs tens of µs per
// KB, so read what you need.
package sdk
