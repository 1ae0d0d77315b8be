package gemini

import (
	"encoding/json"
	"strconv"

	"github.com/tollgate-dev/tollgate/core"
)

// statuses maps error kinds to Google's canonical status names.
var statuses = map[core.Kind]string{
	core.KindValidation:       "INVALID_ARGUMENT",
	core.KindTooLarge:         "INVALID_ARGUMENT",
	core.KindNotFound:         "NOT_FOUND",
	core.KindAuth:             "UNAUTHENTICATED",
	core.KindDenied:           "PERMISSION_DENIED",
	core.KindRateLimit:        "RESOURCE_EXHAUSTED",
	core.KindCircuitOpen:      "UNAVAILABLE",
	core.KindUnreachable:      "UNAVAILABLE",
	core.KindTimeout:          "DEADLINE_EXCEEDED",
	core.KindRetriesExhausted: "UNAVAILABLE",
}

// ErrorBody renders e as Google APIs do:
// {"error":{"code","message","status"}}.
func (Format) ErrorBody(e *core.Error) []byte {
	st, ok := statuses[e.Kind]
	if !ok {
		st = "INTERNAL"
	}
	msg, _ := json.Marshal(e.Error())
	b := make([]byte, 0, 64+len(msg))
	b = append(b, `{"error":{"code":`...)
	b = strconv.AppendInt(b, int64(e.HTTPStatus()), 10)
	b = append(b, `,"message":`...)
	b = append(b, msg...)
	b = append(b, `,"status":"`...)
	b = append(b, st...)
	return append(b, `"}}`...)
}
