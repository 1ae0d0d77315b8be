package jsonscan

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Why says what makes b invalid JSON and at which byte, as encoding/json
// finds it ("invalid character '}' after array element, at byte 41"), or
// that b is gzip-compressed (a client compressing its request); "" when b
// is valid. It is for the error path, where Valid has said no and
// the client should learn where: it scans b once more.
func Why(b []byte) string {
	if len(b) >= 2 && b[0] == 0x1f && b[1] == 0x8b {
		return "it is gzip-compressed (it starts with the bytes 1f 8b): send the body uncompressed"
	}
	var raw json.RawMessage // Unmarshal checks the whole of b before it copies anything
	err := json.Unmarshal(b, &raw)
	var se *json.SyntaxError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &se) && strings.HasSuffix(se.Error(), "exceeded max depth"):
		return fmt.Sprintf("arrays and objects nest more than %d deep, at byte %d", maxDepth, se.Offset)
	case errors.As(err, &se):
		return fmt.Sprintf("%s, at byte %d", se.Error(), se.Offset)
	default:
		return err.Error()
	}
}
