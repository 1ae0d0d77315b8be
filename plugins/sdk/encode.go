package sdk

import (
	"encoding/base64"
	"errors"
	"strconv"
	"unicode/utf8"
)

// appendAction appends a's answer document to b, by hand rather than with
// encoding/json (whose reflection costs tens of µs per answer in a
// WebAssembly guest). Field names and omitted empty fields are those of
// the Action's struct tags.
func appendAction(b []byte, a Action) ([]byte, error) {
	b = append(b, `{"action":`...)
	b = appendString(b, a.Action)
	if a.Body != nil {
		if !isJSON(a.Body) {
			return nil, errBodyNotJSON
		}
		b = append(b, `,"body":`...)
		b = append(b, a.Body...)
	}
	if a.Model != nil {
		b = append(b, `,"model":`...)
		b = appendString(b, *a.Model)
	}
	if a.Upstream != nil {
		b = append(b, `,"upstream":`...)
		b = appendString(b, *a.Upstream)
	}
	if len(a.Metadata) > 0 {
		b = append(b, `,"metadata":`...)
		b = appendStringMap(b, a.Metadata)
	}
	if len(a.Headers) > 0 {
		b = append(b, `,"headers":`...)
		b = appendStringMap(b, a.Headers)
	}
	if a.Status != 0 {
		b = append(b, `,"status":`...)
		b = strconv.AppendInt(b, int64(a.Status), 10)
	}
	if a.Code != "" {
		b = append(b, `,"code":`...)
		b = appendString(b, a.Code)
	}
	if a.Message != "" {
		b = append(b, `,"message":`...)
		b = appendString(b, a.Message)
	}
	if a.Data != nil {
		b = append(b, `,"data":`...)
		b = appendString(b, *a.Data)
	}
	if len(a.Deliveries) > 0 {
		b = append(b, `,"deliveries":[`...)
		for i, d := range a.Deliveries {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, '{')
			if d.Dest != "" {
				b = append(b, `"dest":`...)
				b = appendString(b, d.Dest)
				b = append(b, ',')
			}
			if d.Sink != "" {
				b = append(b, `"sink":`...)
				b = appendString(b, d.Sink)
				b = append(b, ',')
			}
			b = append(b, `"payload":"`...)
			b = base64.StdEncoding.AppendEncode(b, d.Payload)
			b = append(b, `"}`...)
		}
		b = append(b, ']')
	}
	return append(b, '}'), nil
}

var errBodyNotJSON = errors.New("the body is not JSON (SetBody and Respond take a JSON document)")

// isJSON checks that b is one JSON value. It checks structure, not every
// byte: enough to catch a body that is text, truncated or two values.
func isJSON(b []byte) bool {
	s := scanner{b: b}
	switch s.peek() {
	case '{', '[', '"', '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 't', 'f', 'n':
	default:
		return false
	}
	s.skip()
	return s.end() == nil
}

func appendStringMap(b []byte, m map[string]string) []byte {
	b = append(b, '{')
	first := true
	for k, v := range m {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendString(b, k)
		b = append(b, ':')
		b = appendString(b, v)
	}
	return append(b, '}')
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string; invalid UTF-8 becomes U+FFFD,
// as with encoding/json.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
