package jsonscan

import (
	"encoding/binary"
	"math/bits"
	"strings"
	"unsafe"
)

// maxDepth is encoding/json's nesting limit: deeper documents are invalid.
const maxDepth = 10000

// Valid reports whether b is one well-formed JSON value, with what
// encoding/json.Valid accepts: the same grammar, the same depth limit, and
// no UTF-8 check.
func Valid(b []byte) bool {
	v := validator{b: b}
	i := v.value(v.space(0), 0)
	return i >= 0 && v.space(i) == len(b)
}

// ValidFields is Valid and, when b is an object, Fields in the same pass:
// fn sees each top-level field as it is checked. fn may have been called
// by the time a later byte shows b is not valid, so a caller acts on what
// it saw only when valid is true. object reports that b is an object.
// name and raw share b's memory, as Fields' share its string's.
func ValidFields(b []byte, fn func(name, raw string)) (valid, object bool) {
	v := validator{b: b}
	start := v.space(0)
	if start >= len(b) || b[start] != '{' {
		return Valid(b), false
	}
	i := v.object(start+1, 1, fn)
	return i >= 0 && v.space(i) == len(b), true
}

type validator struct{ b []byte }

func (v *validator) space(i int) int {
	for i < len(v.b) {
		switch v.b[i] {
		case ' ', '\n', '\r', '\t':
			i++
		default:
			return i
		}
	}
	return i
}

// value checks the value at b[i] and returns the index after it, or -1.
func (v *validator) value(i, depth int) int {
	if i >= len(v.b) {
		return -1
	}
	switch c := v.b[i]; c {
	case '"':
		return v.str(i + 1)
	case '{':
		return v.object(i+1, depth+1, nil)
	case '[':
		return v.array(i+1, depth+1)
	case 't':
		return v.literal(i, "true")
	case 'f':
		return v.literal(i, "false")
	case 'n':
		return v.literal(i, "null")
	default:
		if c == '-' || c >= '0' && c <= '9' {
			return v.number(i)
		}
		return -1
	}
}

// object checks an object; fn, if not nil, sees each of its fields.
func (v *validator) object(i, depth int, fn func(name, raw string)) int {
	if depth > maxDepth {
		return -1
	}
	if i = v.space(i); i < len(v.b) && v.b[i] == '}' {
		return i + 1
	}
	for {
		if i >= len(v.b) || v.b[i] != '"' {
			return -1
		}
		key := i
		if i = v.str(i + 1); i < 0 {
			return -1
		}
		keyEnd := i
		if i = v.space(i); i >= len(v.b) || v.b[i] != ':' {
			return -1
		}
		start := v.space(i + 1)
		if i = v.value(start, depth); i < 0 {
			return -1
		}
		if fn != nil {
			v.field(fn, key, keyEnd, start, i)
		}
		if i = v.space(i); i >= len(v.b) {
			return -1
		}
		switch v.b[i] {
		case '}':
			return i + 1
		case ',':
			i = v.space(i + 1)
		default:
			return -1
		}
	}
}

// field hands a checked field to fn: the key b[key:keyEnd] (quotes
// included) unquoted, and the raw value b[start:end].
func (v *validator) field(fn func(name, raw string), key, keyEnd, start, end int) {
	name := unsafe.String(&v.b[key+1], keyEnd-key-2)
	if strings.IndexByte(name, '\\') >= 0 {
		name, _ = Unquote(unsafe.String(&v.b[key], keyEnd-key))
	}
	fn(name, unsafe.String(&v.b[start], end-start))
}

func (v *validator) array(i, depth int) int {
	if depth > maxDepth {
		return -1
	}
	if i = v.space(i); i < len(v.b) && v.b[i] == ']' {
		return i + 1
	}
	for {
		if i = v.value(i, depth); i < 0 {
			return -1
		}
		if i = v.space(i); i >= len(v.b) {
			return -1
		}
		switch v.b[i] {
		case ']':
			return i + 1
		case ',':
			i = v.space(i + 1)
		default:
			return -1
		}
	}
}

func (v *validator) literal(i int, word string) int {
	if len(v.b)-i < len(word) || string(v.b[i:i+len(word)]) != word {
		return -1
	}
	return i + len(word)
}

// number checks -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (v *validator) number(i int) int {
	b := v.b
	if b[i] == '-' {
		i++
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case i < len(b) && b[i] >= '1' && b[i] <= '9':
		i = v.digits(i)
	default:
		return -1
	}
	if i < len(b) && b[i] == '.' {
		if i++; i >= len(b) || !isDigit(b[i]) {
			return -1
		}
		i = v.digits(i)
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		if i++; i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !isDigit(b[i]) {
			return -1
		}
		i = v.digits(i)
	}
	return i
}

func (v *validator) digits(i int) int {
	for i < len(v.b) && isDigit(v.b[i]) {
		i++
	}
	return i
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// str checks the rest of a string whose opening quote is at b[i-1] and
// returns the index after its closing quote, or -1: only a quote, a
// backslash or a control byte (which JSON forbids unescaped) needs a look.
func (v *validator) str(i int) int {
	b := v.b
	for {
		if i = PlainEnd(b, i); i >= len(b) {
			return -1
		}
		switch b[i] {
		case '"':
			return i + 1
		case '\\':
			if i = v.escape(i + 1); i < 0 {
				return -1
			}
		default:
			return -1 // a control byte
		}
	}
}

// PlainEnd returns the index of the first quote, backslash or control byte
// (below 0x20) in b at or after i, or len(b): where a run of plain string
// text ends. Plain text is skipped eight bytes at a time.
func PlainEnd(b []byte, i int) int {
	for i+8 <= len(b) {
		if m := special(binary.LittleEndian.Uint64(b[i:])); m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
		i += 8
	}
	for i < len(b) && b[i] >= 0x20 && b[i] != '"' && b[i] != '\\' {
		i++
	}
	return i
}

// escape checks the escape after a backslash at b[i-1].
func (v *validator) escape(i int) int {
	b := v.b
	if i >= len(b) {
		return -1
	}
	switch b[i] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return i + 1
	case 'u':
		if len(b)-i < 5 {
			return -1
		}
		for _, c := range b[i+1 : i+5] {
			if !isDigit(c) && (c|0x20 < 'a' || c|0x20 > 'f') {
				return -1
			}
		}
		return i + 5
	}
	return -1
}

const (
	ones = 0x0101010101010101
	high = 0x8080808080808080
)

// special has the high bit set in the lowest byte of x that is a quote, a
// backslash or below 0x20 (bits above it may be set too: only the lowest
// is exact). Bytes of 0x80 and above never match, so UTF-8 text is plain.
func special(x uint64) uint64 {
	quote := x ^ (ones * '"')
	slash := x ^ (ones * '\\')
	return ((quote-ones)&^quote | (slash-ones)&^slash | (x-ones*0x20)&^x) & high
}
