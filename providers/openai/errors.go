package openai

import (
	"encoding/json"

	"github.com/tollgate-dev/tollgate/core"
)

// errorTypes maps error kinds to OpenAI's error types.
var errorTypes = map[core.Kind]string{
	core.KindValidation:  "invalid_request_error",
	core.KindTooLarge:    "invalid_request_error",
	core.KindNotFound:    "invalid_request_error",
	core.KindAuth:        "authentication_error",
	core.KindDenied:      "permission_error",
	core.KindRateLimit:   "rate_limit_error",
	core.KindCircuitOpen: "service_unavailable_error",
	core.KindTimeout:     "timeout_error",
}

// ErrorBody renders e as OpenAI does: {"error":{"message","type","param","code"}}.
func (Format) ErrorBody(e *core.Error) []byte {
	typ, ok := errorTypes[e.Kind]
	if !ok {
		typ = "server_error"
	}
	b := make([]byte, 0, 128+len(e.Message))
	b = append(b, `{"error":{"message":`...)
	b = appendJSONString(b, e.Error())
	b = append(b, `,"type":`...)
	b = appendJSONString(b, typ)
	b = append(b, `,"param":`...)
	b = appendNullable(b, e.Param)
	b = append(b, `,"code":`...)
	b = appendNullable(b, e.Code)
	return append(b, "}}"...)
}

func appendNullable(b []byte, s string) []byte {
	if s == "" {
		return append(b, "null"...)
	}
	return appendJSONString(b, s)
}

// appendJSONString appends s as a JSON string.
func appendJSONString(b []byte, s string) []byte {
	q, _ := json.Marshal(s)
	return append(b, q...)
}
