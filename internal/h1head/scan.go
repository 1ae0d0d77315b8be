package h1head

import (
	"bufio"
	"bytes"
	"math"
)

// Result is what a scan found.
type Result int

// Scan results.
const (
	Slow Result = iota // leave the head to net/http
	More               // the head is not all buffered yet
	Done
)

// Span is one header line: name buf[KS:KE], value buf[VS:VE].
type Span struct{ KS, KE, VS, VE int }

// Scanner checks a head at the start of buf, allocating nothing.
type Scanner interface{ Scan(buf []byte) Result }

// Peek reads into br until s finds a whole head at the start of its
// buffer, consuming nothing, and returns the buffered bytes. It returns
// nil when s says Slow, the head outgrows the buffer, or a read fails:
// the caller then leaves the head to net/http.
func Peek(br *bufio.Reader, s Scanner) []byte {
	for {
		buf, err := br.Peek(max(br.Buffered(), 1))
		if err != nil {
			return nil
		}
		switch s.Scan(buf) {
		case Slow:
			return nil
		case Done:
			return buf
		}
		if len(buf) >= br.Size() {
			return nil
		}
		if _, err := br.Peek(len(buf) + 1); err != nil {
			return nil
		}
	}
}

// CutLine finds the CRLF-terminated line at buf[start:]: it returns the
// line's end (before CR) and the next line's start. A bare LF is Slow.
func CutLine(buf []byte, start int) (end, next int, r Result) {
	i := bytes.IndexByte(buf[start:], '\n')
	if i < 0 {
		return 0, 0, More
	}
	end = start + i
	if i == 0 || buf[end-1] != '\r' {
		return 0, 0, Slow
	}
	return end - 1, end + 1, Done
}

// ScanFields appends the header lines from buf[start:] to spans, up to
// the blank line; end is the head's length, that line included.
func ScanFields(buf []byte, start int, spans []Span) (_ []Span, end int, r Result) {
	next := start
	for {
		start = next
		var line int
		line, next, r = CutLine(buf, start)
		if r != Done {
			return spans, 0, r
		}
		if line == start {
			return spans, next, Done
		}
		s, ok := ScanField(buf, start, line)
		if !ok {
			return spans, 0, Slow
		}
		spans = append(spans, s)
	}
}

// Framing reads the header lines that frame a message: its
// Content-Length (-1 without one), how many Host lines it has, and the
// indexes in spans of its Connection lines, appended to conn. ok is false
// for what is left to net/http: a bad or repeated Content-Length,
// Transfer-Encoding (chunked bodies and their trailers) and Pragma (its
// Cache-Control rule).
func Framing(buf []byte, spans []Span, conn []int) (length int64, hosts int, _ []int, ok bool) {
	length = -1
	for i, s := range spans {
		switch name := buf[s.KS:s.KE]; {
		case EqualFold(name, "Host"):
			hosts++
		case EqualFold(name, "Content-Length"):
			n, ok := ParseLength(buf[s.VS:s.VE])
			if !ok || length >= 0 {
				return 0, 0, conn, false
			}
			length = n
		case EqualFold(name, "Connection"):
			conn = append(conn, i)
		case EqualFold(name, "Transfer-Encoding"), EqualFold(name, "Pragma"):
			return 0, 0, conn, false
		}
	}
	return length, hosts, conn, true
}

// ScanField takes "Name:" followed by a value textproto accepts; the
// value's surrounding blanks are left out, as textproto does.
func ScanField(buf []byte, start, end int) (Span, bool) {
	i := start
	for i < end && nameByte[buf[i]] {
		i++
	}
	if i == start || i == end || buf[i] != ':' {
		return Span{}, false
	}
	s := Span{KS: start, KE: i, VS: i + 1, VE: end}
	for j := s.VS; j < end; j++ {
		if !ValueByte(buf[j]) {
			return Span{}, false
		}
	}
	for s.VS < s.VE && (buf[s.VS] == ' ' || buf[s.VS] == '\t') {
		s.VS++
	}
	for s.VE > s.VS && (buf[s.VE-1] == ' ' || buf[s.VE-1] == '\t') {
		s.VE--
	}
	return s, true
}

var nameByte = func() (t [256]bool) {
	for _, r := range "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-" {
		t[r] = true
	}
	return t
}()

// ValueByte is textproto's rule for a header value byte: VCHAR, SP,
// HTAB, obs-text.
func ValueByte(b byte) bool {
	return b >= ' ' && b != 0x7f || b == '\t'
}

// ParseLength is strconv.ParseUint(v, 10, 63) without the string.
func ParseLength(v []byte) (int64, bool) {
	if len(v) == 0 {
		return 0, false
	}
	var n int64
	for _, b := range v {
		if b < '0' || b > '9' || n > (math.MaxInt64-int64(b-'0'))/10 {
			return 0, false
		}
		n = n*10 + int64(b-'0')
	}
	return n, true
}

// EqualFold reports whether b and s are equal ignoring ASCII case.
func EqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		if lower(b[i]) != lower(s[i]) {
			return false
		}
	}
	return true
}

func lower(b byte) byte {
	if 'A' <= b && b <= 'Z' {
		return b + 'a' - 'A'
	}
	return b
}

// ContainsToken is httpguts.HeaderValuesContainsToken for one value:
// comma-separated, blanks trimmed, ASCII case-insensitive.
func ContainsToken(v []byte, token string) bool {
	for len(v) > 0 {
		f := v
		if i := bytes.IndexByte(v, ','); i >= 0 {
			f, v = v[:i], v[i+1:]
		} else {
			v = nil
		}
		if EqualFold(bytes.Trim(f, " \t"), token) {
			return true
		}
	}
	return false
}

// ShouldClose is net/http's rule for a message on HTTP/1.minor whose
// Connection lines are spans[conn[i]]: a close token, or HTTP/1.0
// without keep-alive.
func ShouldClose(buf []byte, spans []Span, conn []int, minor int) bool {
	hasClose, hasKeepAlive := false, false
	for _, i := range conn {
		v := buf[spans[i].VS:spans[i].VE]
		hasClose = hasClose || ContainsToken(v, "close")
		hasKeepAlive = hasKeepAlive || ContainsToken(v, "keep-alive")
	}
	if minor == 0 {
		return hasClose || !hasKeepAlive
	}
	return hasClose
}
