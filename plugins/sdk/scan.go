package sdk

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// scanner reads the host's hook documents without reflection. In a
// WebAssembly guest, encoding/json costs ~60 µs to decode a 1 KB request
// document (its state machine makes an indirect call per byte, and
// reflection allocates per field); the scanner reads the fields it knows,
// skips the rest, finds the end of long strings with bytes.IndexByte
// (assembly on wasm), and makes no copy of a string without escapes
// (docs/benchmarks.md, section Plugins).
//
// Strings it returns point into the document. A decoder keeps them valid
// past the call with own, which copies the one span of the document that
// they cover (the small fields, not the body) and points them there.
//
// It trusts the host to send valid JSON: it checks structure as it reads,
// but not the inside of values it skips.
type scanner struct {
	b   []byte
	i   int
	err error
	// lo and hi span the strings returned that point into b (lo < 0: none).
	lo, hi int
}

// errDoc is wrapped by every malformed-document error.
var errDoc = errors.New("sdk: malformed document")

// fail records the first error and stops the scan.
func (s *scanner) fail(want string) {
	if s.err == nil {
		s.err = fmt.Errorf("%w: want %s at byte %d", errDoc, want, s.i)
	}
	s.i = len(s.b)
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// peek returns the next byte after white space, 0 at the end. The host
// writes no white space: the loop is entered only when there is some (in
// a guest, every loop entered costs the host's deadline check).
func (s *scanner) peek() byte {
	if s.i < len(s.b) && s.b[s.i] > ' ' {
		return s.b[s.i]
	}
	s.ws()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// null consumes a null literal if it is next.
func (s *scanner) null() bool {
	return s.peek() == 'n' && s.literal("null")
}

// literal consumes lit if it is next (after white space).
func (s *scanner) literal(lit string) bool {
	if len(s.b)-s.i >= len(lit) && string(s.b[s.i:s.i+len(lit)]) == lit {
		s.i += len(lit)
		return true
	}
	return false
}

// object opens an object and reads its first key: the loop is
//
//	for k, ok := s.object(); ok; k, ok = s.more() { ...read or skip the value... }
//
// A null reads as an empty object.
func (s *scanner) object() ([]byte, bool) {
	switch s.peek() {
	case '{':
		s.i++
		if s.peek() == '}' {
			s.i++
			return nil, false
		}
		return s.key()
	case 'n':
		if s.null() {
			return nil, false
		}
	}
	s.fail("an object")
	return nil, false
}

// more reads the next key of an object, or its end.
func (s *scanner) more() ([]byte, bool) {
	// The host's documents are compact and their keys plain: read such a
	// key here, without the calls of the general path.
	if b, i := s.b, s.i; i+1 < len(b) && b[i] == ',' && b[i+1] == '"' {
		j := quoteOrBackslash(b, i+2)
		if j+1 < len(b) && b[j] == '"' && b[j+1] == ':' {
			s.i = j + 2
			return b[i+2 : j], true
		}
	}
	switch s.peek() {
	case ',':
		s.i++
		return s.key()
	case '}':
		s.i++
		return nil, false
	}
	s.fail(", or }")
	return nil, false
}

// key reads an object key and the colon after it.
func (s *scanner) key() ([]byte, bool) {
	raw, esc := s.rawString()
	if raw == nil || s.peek() != ':' {
		s.fail(":")
		return nil, false
	}
	s.i++
	if esc {
		raw = unescape(raw)
	}
	return raw, true
}

// array opens an array and reports whether it has a first element; more
// elements follow while next reports true. A null reads as empty.
func (s *scanner) array() bool {
	switch s.peek() {
	case '[':
		s.i++
		if s.peek() == ']' {
			s.i++
			return false
		}
		return true
	case 'n':
		if s.null() {
			return false
		}
	}
	s.fail("an array")
	return false
}

func (s *scanner) next() bool {
	switch s.peek() {
	case ',':
		s.i++
		return true
	case ']':
		s.i++
		return false
	}
	s.fail(", or ]")
	return false
}

// rawString reads a string and returns its bytes between the quotes, and
// whether they hold an escape; a null reads as nil. Most strings of a
// document are short (keys, ids, names): a plain loop finds their end in
// fewer steps than a call to bytes.IndexByte, which takes over for a long
// one (it is assembly, four bytes a step, on wasm).
func (s *scanner) rawString() (raw []byte, esc bool) {
	if s.i >= len(s.b) || s.b[s.i] != '"' {
		s.ws()
	}
	b, i := s.b, s.i
	if i == len(b) || b[i] != '"' {
		s.i = i
		if !s.null() {
			s.fail("a string")
		}
		return nil, false
	}
	start := i + 1
	for i = start; ; i += 2 {
		i = quoteOrBackslash(b, i)
		if i >= len(b) {
			s.i = len(b)
			s.fail("the end of a string")
			return nil, false
		}
		if b[i] == '"' {
			s.i = i + 1
			return b[start:i], esc
		}
		esc = true // and skip the escaped byte
	}
}

const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// quoteOrBackslash returns the index of the first '"' or '\\' in b at or
// after i, or len(b). It tests eight bytes a step (a zero byte in x^c
// marks a byte equal to c): in a WebAssembly guest each step of a loop
// costs a few ns, and more with the host's deadline check at every loop
// head, and strings are most of a document.
func quoteOrBackslash(b []byte, i int) int {
	for ; i+8 <= len(b); i += 8 {
		x := binary.LittleEndian.Uint64(b[i:])
		q := x ^ (lsb * '"')
		e := x ^ (lsb * '\\')
		if m := ((q-lsb)&^q | (e-lsb)&^e) & msb; m != 0 {
			// The lowest marked byte is exact: a borrow only marks bytes
			// above a true match.
			return i + bits.TrailingZeros64(m)>>3
		}
	}
	for ; i < len(b); i++ {
		if c := b[i]; c == '"' || c == '\\' {
			return i
		}
	}
	return len(b)
}

// skipString moves past the closing quote of a string whose opening quote
// is consumed.
func (s *scanner) skipString() {
	for {
		j := bytes.IndexByte(s.b[s.i:], '"')
		if j < 0 {
			s.fail("the end of a string")
			return
		}
		s.i += j + 1
		// The quote is escaped if an odd number of backslashes precede it.
		n := 0
		for k := s.i - 2; k >= 0 && s.b[k] == '\\'; k-- {
			n++
		}
		if n%2 == 0 {
			return
		}
	}
}

// str reads a string (null reads as ""). Without escapes, the result
// points into the document: no allocation, until own.
func (s *scanner) str() string {
	if b, i := s.b, s.i; i < len(b) && b[i] == '"' { // the common case, without calls
		if j := quoteOrBackslash(b, i+1); j < len(b) && b[j] == '"' {
			s.i = j + 1
			if j > i+1 {
				s.keep(i+1, j)
			}
			return bstr(b[i+1 : j])
		}
	}
	raw, esc := s.rawString()
	if esc {
		return string(unescape(raw))
	}
	if len(raw) > 0 {
		s.keep(s.i-1-len(raw), s.i-1)
	}
	return bstr(raw)
}

// keep adds b[from:to] to the span own copies.
func (s *scanner) keep(from, to int) {
	if s.lo < 0 || from < s.lo {
		s.lo = from
	}
	s.hi = max(s.hi, to)
}

// kept reads any value, as raw, and adds it to the span own copies.
func (s *scanner) kept() []byte {
	v := s.raw()
	if len(v) > 0 {
		s.keep(s.i-len(v), s.i)
	}
	return v
}

// own copies the span of the document that the kept strings point into,
// once, and returns what moves them there.
func (s *scanner) own() rebase {
	if s.lo < 0 {
		return rebase{}
	}
	return rebase{from: s.b, to: bytes.Clone(s.b[s.lo:s.hi]), lo: s.lo}
}

// rebase moves strings from a document to the copy of a span of it.
type rebase struct {
	from, to []byte
	lo       int
}

// offset is where p lies in the copied span of the document, or -1.
func (r rebase) offset(p *byte, n int) int {
	if len(r.from) == 0 || p == nil {
		return -1
	}
	off := uintptr(unsafe.Pointer(p)) - uintptr(unsafe.Pointer(unsafe.SliceData(r.from)))
	if off >= uintptr(len(r.from)) || int(off) < r.lo || int(off)+n > r.lo+len(r.to) {
		return -1 // not in the span: an unescaped copy, or empty
	}
	return int(off) - r.lo
}

func (r rebase) str(x *string) {
	if len(*x) == 0 {
		*x = ""
	} else if off := r.offset(unsafe.StringData(*x), len(*x)); off >= 0 {
		*x = bstr(r.to[off : off+len(*x)])
	}
}

func (r rebase) bytes(x *[]byte) {
	n := len(*x)
	if n == 0 {
		*x = nil
	} else if off := r.offset(unsafe.SliceData(*x), n); off >= 0 {
		*x = r.to[off : off+n : off+n]
	}
}

// bstr views b as a string; b must never change afterwards.
func bstr(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// boolean reads true or false (null reads as false).
func (s *scanner) boolean() bool {
	switch s.peek() {
	case 't':
		if s.literal("true") {
			return true
		}
	case 'f':
		if s.literal("false") {
			return false
		}
	case 'n':
		if s.literal("null") {
			return false
		}
	}
	s.fail("true or false")
	return false
}

// integer reads a JSON number as an int64 (null reads as 0).
func (s *scanner) integer() int64 {
	if s.null() {
		return 0
	}
	start := s.i
	s.skipLiteral()
	n, err := strconv.ParseInt(bstr(s.b[start:s.i]), 10, 64)
	if err != nil {
		if f, ferr := strconv.ParseFloat(bstr(s.b[start:s.i]), 64); ferr == nil {
			return int64(f)
		}
		s.i = start
		s.fail("an integer")
	}
	return n
}

// raw reads any value and returns its bytes.
func (s *scanner) raw() []byte {
	s.ws()
	start := s.i
	s.skip()
	return s.b[start:s.i:s.i]
}

// skip moves past one value of any kind.
func (s *scanner) skip() {
	switch s.peek() {
	case '"':
		s.i++
		s.skipString()
	case '{', '[':
		depth := 0
		for s.i < len(s.b) {
			switch s.b[s.i] {
			case '"':
				s.i++
				s.skipString()
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					s.i++
					return
				}
			}
			s.i++
		}
		s.fail("the end of an object or array")
	case 0:
		s.fail("a value")
	default:
		start := s.i
		s.skipLiteral()
		if s.i == start {
			s.fail("a value")
		}
	}
}

// skipLiteral moves past a number, true, false or null.
func (s *scanner) skipLiteral() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return
		}
		s.i++
	}
}

// end checks that nothing but white space follows the document.
func (s *scanner) end() error {
	if s.err == nil && s.peek() != 0 {
		s.fail("the end of the document")
	}
	return s.err
}

// unescape decodes the escapes of a JSON string's bytes. Like
// encoding/json, it turns an invalid escape or surrogate into U+FFFD.
func unescape(raw []byte) []byte {
	out := make([]byte, 0, len(raw))
	for i := 0; i < len(raw); {
		c := raw[i]
		if c != '\\' || i+1 == len(raw) {
			out = append(out, c)
			i++
			continue
		}
		i += 2
		switch raw[i-1] {
		case '"', '\\', '/':
			out = append(out, raw[i-1])
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, n := hex4(raw[i:])
			i += n
			if utf16.IsSurrogate(r) {
				r2, n2 := rune(-1), 0
				if i+1 < len(raw) && raw[i] == '\\' && raw[i+1] == 'u' {
					r2, n2 = hex4(raw[i+2:])
				}
				if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
					r = d
					i += 2 + n2
				} else {
					r = utf8.RuneError
				}
			}
			out = utf8.AppendRune(out, r)
		default:
			out = append(out, raw[i-1])
		}
	}
	return out
}

// hex4 reads the four hex digits of a \u escape; RuneError and how many
// bytes it used when they are not there.
func hex4(b []byte) (rune, int) {
	if len(b) < 4 {
		return utf8.RuneError, 0
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return utf8.RuneError, 0
		}
		r = r<<4 | rune(c)
	}
	return r, 4
}
