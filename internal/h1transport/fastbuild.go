package h1transport

import (
	"net/http"

	"github.com/tollgate-dev/tollgate/internal/h1head"
)

// build makes the response of the head Scan accepted, framed as
// http.ReadResponse frames it.
func (p *headParser) build(buf []byte, req *http.Request) *http.Response {
	p.status = h1head.Intern(buf[len("HTTP/1.x "):p.line], p.status)
	resp := &http.Response{
		Status:     p.status,
		StatusCode: p.code,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     p.strs.Header(buf, p.spans),
		Request:    req,
	}
	if p.minor == 0 {
		resp.Proto, resp.ProtoMinor = "HTTP/1.0", 0
	}
	resp.Close = h1head.ShouldClose(buf, p.spans, p.connIdx, p.minor)
	if resp.Close && p.minor == 1 && len(p.connIdx) > 0 {
		delete(resp.Header, "Connection") // as net/http does for a 1.1 close
	}
	noBody := !bodyAllowed(p.code)
	switch {
	case req.Method == "HEAD":
		resp.ContentLength, resp.Body = p.length, http.NoBody
	case noBody || p.length == 0:
		resp.ContentLength, resp.Body = 0, http.NoBody
	default:
		// Without a length the body runs to the connection's end.
		resp.ContentLength = p.length
		resp.Close = resp.Close || p.length < 0
	}
	return resp
}

// bodyAllowed is net/http's bodyAllowedForStatus.
func bodyAllowed(code int) bool {
	return !(code >= 100 && code <= 199 || code == 204 || code == 304)
}
