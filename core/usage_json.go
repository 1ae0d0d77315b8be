package core

import (
	"math"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// AppendJSON appends the event as JSON, byte for byte what encoding/json
// makes of it (HTML-safe string escaping, sorted metadata keys), without
// reflection: the outbox encodes every event, and this is ~5× cheaper.
// A non-finite float — which encoding/json refuses, and which would stall
// the outbox behind an event it can never store — is written as 0.
func (ev *UsageEvent) AppendJSON(b []byte) []byte {
	b = append(b, `{"id":`...)
	b = AppendJSONString(b, ev.ID)
	b = append(b, `,"timestamp":"`...)
	b = ev.Timestamp.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","customer_id":`...)
	b = AppendJSONString(b, ev.CustomerID)
	b = append(b, `,"provider":`...)
	b = AppendJSONString(b, ev.Provider)
	if ev.Upstream != "" {
		b = append(b, `,"upstream":`...)
		b = AppendJSONString(b, ev.Upstream)
	}
	b = append(b, `,"model":`...)
	b = AppendJSONString(b, ev.Model)
	b = append(b, `,"operation":`...)
	b = AppendJSONString(b, ev.Operation)
	b = append(b, ',')
	b = appendTokens(b, ev.InputTokens, ev.OutputTokens, ev.TotalTokens, ev.CachedInputTokens, ev.CacheWriteTokens, ev.ReasoningTokens)
	if ev.UsageEstimated {
		b = append(b, `,"usage_estimated":true`...)
	}
	b = append(b, `,"stream":`...)
	b = strconv.AppendBool(b, ev.Stream)
	b = append(b, `,"status":`...)
	b = AppendJSONString(b, ev.Status)
	b = append(b, `,"http_status":`...)
	b = strconv.AppendInt(b, int64(ev.HTTPStatus), 10)
	b = append(b, `,"latency_ms":`...)
	b = appendJSONFloat(b, ev.LatencyMS)
	if ev.TimeToFirstToken != nil {
		b = append(b, `,"time_to_first_token_ms":`...)
		b = appendJSONFloat(b, *ev.TimeToFirstToken)
	}
	b = append(b, `,"retry_count":`...)
	b = strconv.AppendInt(b, int64(ev.RetryCount), 10)
	b = append(b, `,"cache_hit":`...)
	b = strconv.AppendBool(b, ev.CacheHit)
	if s := ev.Saved; s != nil {
		b = append(b, `,"saved":{`...)
		b = appendTokens(b, s.InputTokens, s.OutputTokens, s.TotalTokens, s.CachedInputTokens, s.CacheWriteTokens, s.ReasoningTokens)
		if s.Estimated {
			b = append(b, `,"usage_estimated":true`...)
		}
		b = append(b, '}')
	}
	if ev.RequestID != "" {
		b = append(b, `,"request_id":`...)
		b = AppendJSONString(b, ev.RequestID)
	}
	if ev.Error != "" {
		b = append(b, `,"error":`...)
		b = AppendJSONString(b, ev.Error)
	}
	if len(ev.Reasons) > 0 {
		b = append(b, `,"reasons":[`...)
		for i, r := range ev.Reasons {
			if i > 0 {
				b = append(b, ',')
			}
			b = AppendJSONString(b, r)
		}
		b = append(b, ']')
	}
	b = append(b, `,"metadata":`...)
	b = appendJSONMap(b, ev.Metadata)
	if ev.Cost != nil {
		b = append(b, `,"cost":`...)
		b = ev.Cost.AppendDecimal(b)
	}
	return append(b, '}')
}

// MarshalJSON encodes the event with [UsageEvent.AppendJSON].
func (ev *UsageEvent) MarshalJSON() ([]byte, error) { return ev.AppendJSON(make([]byte, 0, 512)), nil }

// appendTokens appends the six token counts that [Usage] and [UsageEvent]
// share, in their field order.
func appendTokens(b []byte, in, out, total, cached, written, reasoning int64) []byte {
	b = append(b, `"input_tokens":`...)
	b = strconv.AppendInt(b, in, 10)
	b = append(b, `,"output_tokens":`...)
	b = strconv.AppendInt(b, out, 10)
	b = append(b, `,"total_tokens":`...)
	b = strconv.AppendInt(b, total, 10)
	b = append(b, `,"cached_input_tokens":`...)
	b = strconv.AppendInt(b, cached, 10)
	b = append(b, `,"cache_write_tokens":`...)
	b = strconv.AppendInt(b, written, 10)
	b = append(b, `,"reasoning_tokens":`...)
	return strconv.AppendInt(b, reasoning, 10)
}

// appendJSONFloat formats f as encoding/json does: plain decimal, or
// exponent form outside [1e-6, 1e21), with the exponent's leading zero cut.
func appendJSONFloat(b []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, '0')
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// appendJSONMap appends m with its keys sorted; nil is {}, as the event
// schema has metadata always an object.
func appendJSONMap(b []byte, m map[string]string) []byte {
	var small [16]string
	keys := small[:0]
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = AppendJSONString(b, k)
		b = append(b, ':')
		b = AppendJSONString(b, m[k])
	}
	return append(b, '}')
}

const hexDigits = "0123456789abcdef"

// AppendJSONString quotes s as encoding/json does by default: <, > and &
// escaped for HTML, U+2028 and U+2029 escaped, invalid UTF-8 replaced by
// U+FFFD.
func AppendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
