package jsonscan

import (
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Kind is the type of a raw JSON value, read from its first byte.
type Kind uint8

const (
	Invalid Kind = iota
	Null
	Bool
	Number
	String
	Array
	Object
)

// KindOf returns the kind of the raw value raw, as Fields hands it out.
func KindOf(raw string) Kind {
	if raw == "" {
		return Invalid
	}
	switch raw[0] {
	case 'n':
		return Null
	case 't', 'f':
		return Bool
	case '"':
		return String
	case '[':
		return Array
	case '{':
		return Object
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return Number
	}
	return Invalid
}

// Described names a kind as an error message does: "a string", "null".
func (k Kind) Described() string {
	switch k {
	case Null:
		return "null"
	case Bool:
		return "a boolean"
	case Number:
		return "a number"
	case String:
		return "a string"
	case Array:
		return "an array"
	case Object:
		return "an object"
	}
	return "invalid JSON"
}

// Int reads a raw number as an integer. A fraction or exponent is cut
// toward zero, a string that holds a number reads as that number (as
// encoding/json's Number does), and anything else reads as 0, false.
func Int(raw string) (int64, bool) {
	if len(raw) > 2 && raw[0] == '"' && raw[len(raw)-1] == '"' {
		raw = raw[1 : len(raw)-1]
	}
	if n, err := strconv.ParseInt(raw, 10, 64); err == nil {
		return n, true
	}
	if KindOf(raw) != Number {
		return 0, false
	}
	f, err := strconv.ParseFloat(raw, 64)
	if err != nil || f >= 1<<63 || f < -(1<<63) {
		return 0, false
	}
	return int64(f), true
}

// Unquote returns the text of a raw JSON string, without a copy when it
// has no escapes. ok is false when raw is not a string. Invalid UTF-8
// becomes U+FFFD, as encoding/json decodes it.
func Unquote(raw string) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return "", false
	}
	if strings.IndexByte(raw, '\\') < 0 && utf8.ValidString(raw) {
		return raw[1 : len(raw)-1], true
	}
	return unescape(raw)
}

// unescape decodes a string with escapes or invalid UTF-8; apart from
// Unquote so that only this rare path puts a string on the heap.
func unescape(raw string) (string, bool) {
	var s string
	if json.Unmarshal([]byte(raw), &s) != nil {
		return "", false
	}
	return s, true
}
