package h1server

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
)

// build makes the request of the head scan accepted, with ctx as its
// context; nil when its target does not parse (http.ReadRequest then
// says why).
func (p *headParser) build(ctx context.Context, buf []byte) *http.Request {
	target := buf[p.tgt.ks:p.tgt.ke]
	if string(target) != p.target {
		p.target = string(target)
	}
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
		Close:         p.shouldClose(buf),
		RequestURI:    p.target,
	}
	if p.minor == 0 {
		tmpl.Proto, tmpl.ProtoMinor = "HTTP/1.0", 0
	}
	tmpl.Header, tmpl.Host = p.header(buf)
	req := tmpl.WithContext(ctx)
	return req
}

// header builds the header map as textproto does (one backing array for
// the values), with the previous request's strings where bytes match;
// the Host line is returned apart, as http.ReadRequest does.
func (p *headParser) header(buf []byte) (h http.Header, host string) {
	h = make(http.Header, len(p.spans))
	strs := make([]string, len(p.spans))
	prev, cur := p.prev, p.spare[:0]
	for i, s := range p.spans {
		key := internKey(buf[s.ks:s.ke], prev, i)
		value := internValue(buf[s.vs:s.ve], key, prev, i)
		cur = append(cur, field{key, value})
		if key == "Host" {
			host = value
			continue
		}
		if vv := h[key]; vv != nil {
			h[key] = append(vv, value)
			continue
		}
		h[key], strs = strs[:1:1], strs[1:]
		h[key][0] = value
	}
	clear(prev) // the next request keeps only this one's strings
	p.prev, p.spare = cur, prev[:0]
	return h, host
}

// shouldClose is net/http's rule for a request: a close token, or
// HTTP/1.0 without keep-alive.
func (p *headParser) shouldClose(buf []byte) bool {
	hasClose, hasKeepAlive := false, false
	for _, i := range p.connIdx {
		s := p.spans[i]
		v := buf[s.vs:s.ve]
		hasClose = hasClose || containsToken(v, "close")
		hasKeepAlive = hasKeepAlive || containsToken(v, "keep-alive")
	}
	if p.minor == 0 {
		return hasClose || !hasKeepAlive
	}
	return hasClose
}

// containsToken is httpguts.HeaderValuesContainsToken for one value:
// comma-separated, blanks trimmed, ASCII case-insensitive.
func containsToken(v []byte, token string) bool {
	for len(v) > 0 {
		f := v
		if i := bytes.IndexByte(v, ','); i >= 0 {
			f, v = v[:i], v[i+1:]
		} else {
			v = nil
		}
		for len(f) > 0 && (f[0] == ' ' || f[0] == '\t') {
			f = f[1:]
		}
		for len(f) > 0 && (f[len(f)-1] == ' ' || f[len(f)-1] == '\t') {
			f = f[:len(f)-1]
		}
		if equalFold(f, token) {
			return true
		}
	}
	return false
}

// internKey returns the canonical form of name, as a string the
// previous request or the common table already holds when it can.
func internKey(name []byte, prev []field, i int) string {
	var scratch [64]byte
	var canon []byte
	if len(name) <= len(scratch) {
		canon = scratch[:len(name)]
	} else {
		canon = make([]byte, len(name))
	}
	upper := true
	for j, b := range name {
		if upper && 'a' <= b && b <= 'z' {
			b -= 'a' - 'A'
		} else if !upper && 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		canon[j] = b
		upper = b == '-'
	}
	if i < len(prev) && prev[i].key == string(canon) {
		return prev[i].key
	}
	if k, ok := commonKeys[string(canon)]; ok {
		return k
	}
	for _, f := range prev {
		if f.key == string(canon) {
			return f.key
		}
	}
	return string(canon)
}

// internValue returns value as a string, the previous request's for the
// same key when the bytes are equal.
func internValue(value []byte, key string, prev []field, i int) string {
	if len(value) == 0 {
		return ""
	}
	if i < len(prev) && prev[i].key == key && prev[i].value == string(value) {
		return prev[i].value
	}
	for _, f := range prev {
		if f.key == key && f.value == string(value) {
			return f.value
		}
	}
	return string(value)
}

// commonKeys holds the header names most requests carry.
var commonKeys = func() map[string]string {
	m := make(map[string]string)
	for _, k := range []string{
		"Accept", "Accept-Encoding", "Accept-Language", "Anthropic-Beta", "Anthropic-Version",
		"Authorization", "Cache-Control", "Connection", "Content-Encoding", "Content-Length",
		"Content-Type", "Cookie", "Expect", "Host", "Idempotency-Key", "Openai-Organization",
		"Openai-Project", "Origin", "Referer", "Traceparent", "Tracestate", "Upgrade",
		"User-Agent", "X-Api-Key", "X-Forwarded-For", "X-Forwarded-Proto", "X-Request-Id",
	} {
		m[k] = k
	}
	return m
}()
