package h1server

import (
	"bufio"
	"bytes"
	"context"
	"math"
	"net/http"
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
	prev   []field // the previous request's header strings
	spare  []field // the next request's, reused
	target string  // the previous request's target
	spans  []span  // the head being read, reused per request

	method  string
	tgt     span
	minor   int
	end     int   // the head's length, up to its blank line
	length  int64 // Content-Length, 0 without one
	connIdx []int // indexes in spans of the Connection lines
}

type field struct{ key, value string }

// span is one header line: name head[ks:ke], value head[vs:ve].
type span struct{ ks, ke, vs, ve int }

// scan results.
const (
	headSlow = iota // leave the head to http.ReadRequest
	headMore        // the head is not all buffered yet
	headDone
)

// read returns the next request when its head is one the parser takes,
// consuming it from br; otherwise it returns nil and consumes nothing.
// newCtx makes the request's context, only once the head is taken.
func (p *headParser) read(br *bufio.Reader, newCtx func() (context.Context, context.CancelFunc)) (*http.Request, context.CancelFunc) {
	for {
		buf, err := br.Peek(max(br.Buffered(), 1))
		if err != nil {
			return nil, nil
		}
		switch p.scan(buf) {
		case headSlow:
			return nil, nil
		case headMore:
			if len(buf) >= br.Size() {
				return nil, nil
			}
			if _, err := br.Peek(len(buf) + 1); err != nil {
				return nil, nil
			}
			continue
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
}

// scan checks the head at the start of buf and records where its parts
// are, allocating nothing.
func (p *headParser) scan(buf []byte) int {
	p.spans, p.connIdx = p.spans[:0], p.connIdx[:0]
	p.length = 0
	line, next, st := cutLine(buf, 0)
	if st != headDone {
		return st
	}
	if !p.scanRequestLine(buf, line) {
		return headSlow
	}
	hosts, lengths := 0, 0
	for {
		start := next
		line, next, st = cutLine(buf, start)
		if st != headDone {
			return st
		}
		if line == start { // the blank line
			p.end = next
			break
		}
		s, ok := scanField(buf, start, line)
		if !ok {
			return headSlow
		}
		switch name := buf[s.ks:s.ke]; {
		case equalFold(name, "Host"):
			hosts++
		case equalFold(name, "Content-Length"):
			lengths++
			n, ok := parseLength(buf[s.vs:s.ve])
			if !ok {
				return headSlow
			}
			p.length = n
		case equalFold(name, "Connection"):
			p.connIdx = append(p.connIdx, len(p.spans))
		case equalFold(name, "Transfer-Encoding"), equalFold(name, "Pragma"):
			// Chunked bodies and Pragma's Cache-Control rule are
			// http.ReadRequest's.
			return headSlow
		}
		p.spans = append(p.spans, s)
	}
	if hosts > 1 || lengths > 1 {
		return headSlow
	}
	return headDone
}

// cutLine finds the CRLF-terminated line at buf[start:]: it returns the
// line's end (before CR) and the next line's start. A bare LF is slow.
func cutLine(buf []byte, start int) (end, next, st int) {
	i := bytes.IndexByte(buf[start:], '\n')
	if i < 0 {
		return 0, 0, headMore
	}
	end = start + i
	if i == 0 || buf[end-1] != '\r' {
		return 0, 0, headSlow
	}
	return end - 1, end + 1, headDone
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
	p.tgt = span{ks: sp + 1, ke: sp + 1 + sp2}
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

// scanField takes "Name:" followed by a value textproto accepts; the
// value's surrounding blanks are left out, as textproto does.
func scanField(buf []byte, start, end int) (span, bool) {
	i := start
	for i < end && nameByte[buf[i]] {
		i++
	}
	if i == start || i == end || buf[i] != ':' {
		return span{}, false
	}
	s := span{ks: start, ke: i, vs: i + 1, ve: end}
	for j := s.vs; j < end; j++ {
		if !validHeaderValueByte(buf[j]) {
			return span{}, false
		}
	}
	for s.vs < s.ve && (buf[s.vs] == ' ' || buf[s.vs] == '\t') {
		s.vs++
	}
	for s.ve > s.vs && (buf[s.ve-1] == ' ' || buf[s.ve-1] == '\t') {
		s.ve--
	}
	return s, true
}

var nameByte = func() (t [256]bool) {
	for _, r := range "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-" {
		t[r] = true
	}
	return t
}()

// validHeaderValueByte is textproto's rule: VCHAR, SP, HTAB, obs-text.
func validHeaderValueByte(b byte) bool {
	return b >= ' ' && b != 0x7f || b == '\t'
}

// parseLength is strconv.ParseUint(v, 10, 63) without the string.
func parseLength(v []byte) (int64, bool) {
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

func equalFold(b []byte, s string) bool {
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
