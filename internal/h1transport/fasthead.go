package h1transport

import (
	"bufio"
	"bytes"
	"net/http"

	"github.com/tollgate-dev/tollgate/internal/h1head"
)

// headParser reads the common response head without http.ReadResponse:
// "HTTP/1.0" or "HTTP/1.1", a three-digit status, CRLF lines, token
// header names, at most one Content-Length, no Transfer-Encoding (chunked
// bodies stay net/http's, with their trailers) and no Pragma, the whole
// head in the connection's buffer. Anything else, malformed input
// included, is left unread for http.ReadResponse; FuzzFastHead checks
// that what this parser takes reads exactly as http.ReadResponse reads
// it.
//
// It saves what http.ReadResponse allocates beyond the response and its
// header map: the status line and the header strings equal to the
// previous response's on the connection are reused, and the body is
// read by the transport's own body (see body.readConn) instead of
// net/http's body and limit readers.
type headParser struct {
	strs   h1head.Strings
	status string        // the previous response's status, reused
	spans  []h1head.Span // the head being read, reused per response

	line    int // the status line's end
	minor   int
	code    int
	end     int   // the head's length, up to its blank line
	length  int64 // Content-Length, -1 without one
	connIdx []int // indexes in spans of the Connection lines
}

// read returns the next response when its head is one the parser takes,
// consuming the head from br; otherwise it returns nil and consumes
// nothing. A response with a body has a nil Body: the caller gives it
// one that reads ContentLength bytes, or to EOF when that is -1.
func (p *headParser) read(br *bufio.Reader, req *http.Request) *http.Response {
	buf := h1head.Peek(br, p)
	if buf == nil {
		return nil
	}
	resp := p.build(buf, req)
	br.Discard(p.end)
	return resp
}

// Scan checks the head at the start of buf and records where its parts
// are, allocating nothing.
func (p *headParser) Scan(buf []byte) h1head.Result {
	p.spans, p.connIdx = p.spans[:0], p.connIdx[:0]
	line, next, r := h1head.CutLine(buf, 0)
	if r != h1head.Done {
		return r
	}
	if !p.scanStatusLine(buf[:line]) {
		return h1head.Slow
	}
	p.line = line
	if p.spans, p.end, r = h1head.ScanFields(buf, next, p.spans); r != h1head.Done {
		return r
	}
	length, _, conn, ok := h1head.Framing(buf, p.spans, p.connIdx)
	p.connIdx, p.length = conn, length
	if !ok {
		return h1head.Slow
	}
	return h1head.Done
}

// scanStatusLine takes "HTTP/1.x NNN" and an optional " reason".
func (p *headParser) scanStatusLine(line []byte) bool {
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return false
	}
	switch line[7] {
	case '0':
		p.minor = 0
	case '1':
		p.minor = 1
	default:
		return false
	}
	p.code = 0
	for _, b := range line[9:12] {
		if b < '0' || b > '9' {
			return false
		}
		p.code = p.code*10 + int(b-'0')
	}
	if len(line) > 12 && line[12] != ' ' {
		return false
	}
	for _, b := range line[12:] {
		if !h1head.ValueByte(b) {
			return false
		}
	}
	return true
}

var _ h1head.Scanner = (*headParser)(nil)
