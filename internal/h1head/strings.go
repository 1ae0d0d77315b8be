package h1head

import "net/http"

// Strings reuses a connection's header strings from one head to the
// next: a key or value whose bytes equal the previous head's reuses its
// string (strings are immutable). Only strings are kept; every header
// map and value slice is new, as callers keep them.
type Strings struct {
	prev  []field // the previous head's strings
	spare []field // the next head's, reused
}

type field struct{ key, value string }

// Header builds the header of the lines spans as textproto does (one
// backing array for the values, each value slice capped), with the
// previous head's strings where the bytes match.
func (s *Strings) Header(buf []byte, spans []Span) http.Header {
	h := make(http.Header, len(spans))
	strs := make([]string, len(spans))
	prev, cur := s.prev, s.spare[:0]
	for i, sp := range spans {
		key := internKey(buf[sp.KS:sp.KE], prev, i)
		value := internValue(buf[sp.VS:sp.VE], key, prev, i)
		cur = append(cur, field{key, value})
		if vv := h[key]; vv != nil {
			h[key] = append(vv, value)
			continue
		}
		h[key], strs = strs[:1:1], strs[1:]
		h[key][0] = value
	}
	clear(prev) // the next head keeps only this one's strings
	s.prev, s.spare = cur, prev[:0]
	return h
}

// internKey returns the canonical form of name, as a string the
// previous head or the common table already holds when it can.
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

// internValue returns value as a string, the previous head's for the
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

// Intern returns b as a string, old when the bytes are equal.
func Intern(b []byte, old string) string {
	if string(b) == old {
		return old
	}
	return string(b)
}

// commonKeys holds the header names most requests and responses carry.
var commonKeys = func() map[string]string {
	m := make(map[string]string)
	for _, k := range []string{
		"Accept", "Accept-Encoding", "Accept-Language", "Anthropic-Beta", "Anthropic-Version",
		"Authorization", "Cache-Control", "Connection", "Content-Encoding", "Content-Length",
		"Content-Type", "Cookie", "Expect", "Host", "Idempotency-Key", "Openai-Organization",
		"Openai-Project", "Origin", "Referer", "Traceparent", "Tracestate", "Upgrade",
		"User-Agent", "X-Api-Key", "X-Forwarded-For", "X-Forwarded-Proto", "X-Request-Id",
		// responses
		"Alt-Svc", "Cf-Ray", "Date", "Keep-Alive", "Openai-Processing-Ms", "Openai-Version",
		"Request-Id", "Server", "Set-Cookie", "Strict-Transport-Security", "Vary",
		"X-Content-Type-Options",
	} {
		m[k] = k
	}
	return m
}()
