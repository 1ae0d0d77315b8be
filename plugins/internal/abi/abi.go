// Package abi holds what the two plugin hosts (wasm and process) share: the
// hook documents of ABI v1 (docs/plugin-abi.md), the action a plugin answers
// with and how it is applied to a call, host-function error codes, and the
// destination allow-list.
package abi

// Version is the ABI version this host serves.
const Version = 1

// Hook bits, as returned by a module's tollgate_hooks export.
const (
	HookRequest     = 1 << 0
	HookResponse    = 1 << 1
	HookStreamEvent = 1 << 2
	HookUsage       = 1 << 3

	// StageHooks are the hooks a pipeline stage serves.
	StageHooks = HookRequest | HookResponse | HookStreamEvent
	// AllHooks are the hooks ABI v1 defines.
	AllHooks = StageHooks | HookUsage
)

// HookNames maps each hook bit to its name in documents and exports.
var HookNames = []struct {
	Bit  int
	Name string
}{
	{HookRequest, "request"},
	{HookResponse, "response"},
	{HookStreamEvent, "stream_event"},
	{HookUsage, "usage"},
}

// HookList names the hooks set in mask, in ABI order.
func HookList(mask int) []string {
	var out []string
	for _, h := range HookNames {
		if mask&h.Bit != 0 {
			out = append(out, h.Name)
		}
	}
	return out
}

// Host function results (i32): zero or a positive length means success.
const (
	OK          = 0
	ErrDenied   = -1 // the destination or sink is not on the plugin's allow-list
	ErrInvalid  = -2 // a pointer or length is out of bounds, or an argument is malformed
	ErrFailed   = -3 // the host could not accept the payload; the call may be retried
	ErrTooLarge = -4 // the payload is over the limit
)

// ErrorName names a host function error code.
func ErrorName(code int32) string {
	switch code {
	case ErrDenied:
		return "denied"
	case ErrInvalid:
		return "invalid"
	case ErrFailed:
		return "failed"
	case ErrTooLarge:
		return "too_large"
	}
	return "ok"
}

// Limits of ABI v1.
const (
	// MaxPayload is the largest payload deliver or emit accepts.
	MaxPayload = 1 << 20
	// MaxLogLine is where a log message is cut.
	MaxLogLine = 4 << 10
	// MaxOutput is the largest document a hook may answer with.
	MaxOutput = 64 << 20
)
