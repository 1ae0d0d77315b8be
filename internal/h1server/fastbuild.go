package h1server

import (
	"context"
	"net/http"
	"net/url"

	"github.com/tollgate-dev/tollgate/internal/h1head"
)

// build makes the request of the head scan accepted, with ctx as its
// context; nil when its target does not parse (http.ReadRequest then
// says why).
func (p *headParser) build(ctx context.Context, buf []byte) *http.Request {
	p.target = h1head.Intern(buf[p.tgt.KS:p.tgt.KE], p.target)
	u, err := url.ParseRequestURI(p.target)
	if err != nil {
		return nil
	}
	// The literal stays on the stack: WithContext's copy is the only
	// request allocated.
	tmpl := http.Request{
		Method:        p.method,
		URL:           u,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		ContentLength: p.length,
		Body:          http.NoBody,
		Close:         h1head.ShouldClose(buf, p.spans, p.connIdx, p.minor),
		RequestURI:    p.target,
	}
	if p.minor == 0 {
		tmpl.Proto, tmpl.ProtoMinor = "HTTP/1.0", 0
	}
	tmpl.Header, tmpl.Host = p.header(buf)
	return tmpl.WithContext(ctx)
}

// header builds the header map, with the previous request's strings
// where bytes match; the Host line is returned apart, as
// http.ReadRequest does.
func (p *headParser) header(buf []byte) (h http.Header, host string) {
	h = p.strs.Header(buf, p.spans)
	if v, ok := h["Host"]; ok {
		host = v[0]
		delete(h, "Host")
	}
	return h, host
}
