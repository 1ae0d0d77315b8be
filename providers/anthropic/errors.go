package anthropic

import (
	"encoding/json"

	"github.com/tollgate-dev/tollgate/core"
)

// errorTypes maps error kinds to Anthropic's error types.
var errorTypes = map[core.Kind]string{
	core.KindValidation:  "invalid_request_error",
	core.KindTooLarge:    "request_too_large",
	core.KindNotFound:    "not_found_error",
	core.KindAuth:        "authentication_error",
	core.KindDenied:      "permission_error",
	core.KindRateLimit:   "rate_limit_error",
	core.KindCircuitOpen: "overloaded_error",
	core.KindTimeout:     "timeout_error",
}

// ErrorBody renders e as Anthropic does:
// {"type":"error","error":{"type","message"}}.
func (Format) ErrorBody(e *core.Error) []byte {
	typ, ok := errorTypes[e.Kind]
	if !ok {
		typ = "api_error"
	}
	msg, _ := json.Marshal(e.Error())
	b := make([]byte, 0, 64+len(msg)+len(typ))
	b = append(b, `{"type":"error","error":{"type":"`...)
	b = append(b, typ...)
	b = append(b, `","message":`...)
	b = append(b, msg...)
	return append(b, "}}"...)
}
