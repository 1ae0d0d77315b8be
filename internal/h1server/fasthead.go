package h1server

import (
	"bufio"
	"bytes"
	"context"
	"net/http"

	"github.com/tollgate-dev/tollgate/internal/h1head"
)

// headParser reads the common request head without http.ReadRequest:
// an origin-form target, HTTP/1.0 or 1.1, CRLF lines, token header
// names of letters, digits and dashes, no obs-fold, at most one
// Content-Length and no Transfer-Encoding, the whole head in the
// connection's buffer. Anything else, malformed input included, is left
// unread for http.ReadRequest, so every unusual or bad request gets
// net/http's answer; FuzzFastHead checks that what this parser accepts
// reads exactly as http.ReadRequest reads it.
//
// It saves what http.ReadRequest allocates beyond the request itself:
// a header key or value whose bytes equal the previous request's on the
// connection reuses its string (strings are immutable; the map and the
// slices are new per request), and the request is made once with its
// context instead of copied by WithContext.
type headParser struct {
	strs   h1head.Strings
	target string        // the previous request's target
	spans  []h1head.Span // the head being read, reused per request

	method  string
	tgt     h1head.Span
	minor   int
	end     int   // the head's length, up to its blank line
	length  int64 // Content-Length, 0 without one
	connIdx []int // indexes in spans of the Connection lines
	// hostSent: the head has a Host line, maybe an empty one (which
	// RFC 9112 allows and net/http's server takes).
	hostSent bool
}

// read returns the next request when its head is one the parser takes,
// consuming it from br; otherwise it returns nil and consumes nothing.
// newCtx makes the request's context, only once the head is taken.
func (p *headParser) read(br *bufio.Reader, newCtx func() (context.Context, context.CancelFunc)) (*http.Request, context.CancelFunc) {
	buf := h1head.Peek(br, p)
	if buf == nil {
		return nil, nil
	}
	ctx, cancel := newCtx()
	req := p.build(ctx, buf)
	if req == nil {
		cancel()
		return nil, nil
	}
	br.Discard(p.end)
	return req, cancel
}

// Scan checks the head at the start of buf and records where its parts
// are, allocating nothing.
func (p *headParser) Scan(buf []byte) h1head.Result {
	p.spans, p.connIdx = p.spans[:0], p.connIdx[:0]
	line, next, r := h1head.CutLine(buf, 0)
	if r != h1head.Done {
		return r
	}
	if !p.scanRequestLine(buf, line) {
		return h1head.Slow
	}
	if p.spans, p.end, r = h1head.ScanFields(buf, next, p.spans); r != h1head.Done {
		return r
	}
	length, hosts, conn, ok := h1head.Framing(buf, p.spans, p.connIdx)
	p.connIdx, p.length, p.hostSent = conn, max(length, 0), hosts == 1
	if !ok || hosts > 1 {
		return h1head.Slow
	}
	return h1head.Done
}

// scanRequestLine takes "METHOD /target HTTP/1.x" with a known method.
func (p *headParser) scanRequestLine(buf []byte, end int) bool {
	line := buf[:end]
	sp := bytes.IndexByte(line, ' ')
	if sp < 0 {
		return false
	}
	if p.method = knownMethod(line[:sp]); p.method == "" {
		return false
	}
	rest := line[sp+1:]
	sp2 := bytes.IndexByte(rest, ' ')
	if sp2 < 0 {
		return false
	}
	switch string(rest[sp2+1:]) {
	case "HTTP/1.1":
		p.minor = 1
	case "HTTP/1.0":
		p.minor = 0
	default:
		return false
	}
	p.tgt = h1head.Span{KS: sp + 1, KE: sp + 1 + sp2}
	return originForm(rest[:sp2])
}

// originForm reports whether t is a path-and-query: the other forms
// (absolute, authority, "*") are rare and left to http.ReadRequest.
func originForm(t []byte) bool {
	return len(t) > 0 && t[0] == '/'
}

func knownMethod(m []byte) string {
	switch string(m) {
	case "GET":
		return "GET"
	case "POST":
		return "POST"
	case "PUT":
		return "PUT"
	case "DELETE":
		return "DELETE"
	case "PATCH":
		return "PATCH"
	case "HEAD":
		return "HEAD"
	case "OPTIONS":
		return "OPTIONS"
	}
	return ""
}

var _ h1head.Scanner = (*headParser)(nil)
