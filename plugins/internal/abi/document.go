package abi

import (
	"encoding/json"
	"net/http"
	"slices"

	"github.com/tollgate-dev/tollgate/core"
)

// AppendRequest appends the request hook's document for req to b. It is
// written by hand, without reflection: the body is embedded as raw JSON
// when the wire format parsed it as such, else as the string body_text.
func AppendRequest(b []byte, req *core.Request) []byte {
	b = append(b, `{"hook":"request",`...)
	b = appendRequestFields(b, req)
	b = append(b, `,"headers":`...)
	b = appendHeader(b, req.Header)
	b = appendBody(b, req.Body, req.ParseErr == nil)
	return append(b, '}')
}

// AppendResponse appends the response hook's document to b.
func AppendResponse(b []byte, req *core.Request, resp *core.Response) []byte {
	b = append(b, `{"hook":"response","request":{`...)
	b = appendRequestFields(b, req)
	b = append(b, `},"status":`...)
	b = appendInt(b, int64(resp.Status))
	b = append(b, `,"headers":`...)
	b = appendHeader(b, resp.Header)
	b = append(b, `,"usage":`...)
	b = appendUsage(b, resp.Usage, resp.UsageKnown)
	b = appendBody(b, resp.Body, json.Valid(resp.Body))
	return append(b, '}')
}

// AppendStreamEvent appends the stream_event hook's document to b.
func AppendStreamEvent(b []byte, req *core.Request, ev *core.Event) []byte {
	b = append(b, `{"hook":"stream_event","request":{`...)
	b = appendRequestFields(b, req)
	b = append(b, `},"event":`...)
	b = core.AppendJSONString(b, ev.Name)
	b = append(b, `,"data":`...)
	b = core.AppendJSONString(b, string(ev.Data))
	return append(b, '}')
}

// AppendUsage appends the usage hook's document for a batch of events.
func AppendUsage(b []byte, events []*core.UsageEvent) ([]byte, error) {
	b = append(b, `{"hook":"usage","events":[`...)
	for i, ev := range events {
		if i > 0 {
			b = append(b, ',')
		}
		j, err := json.Marshal(ev)
		if err != nil {
			return nil, err
		}
		b = append(b, j...)
	}
	return append(b, "]}"...), nil
}

func appendRequestFields(b []byte, req *core.Request) []byte {
	b = append(b, `"id":`...)
	b = core.AppendJSONString(b, req.ID)
	b = append(b, `,"provider":`...)
	if req.Format != nil {
		b = core.AppendJSONString(b, req.Format.Name())
	} else {
		b = append(b, `""`...)
	}
	b = append(b, `,"operation":`...)
	b = core.AppendJSONString(b, req.Operation)
	b = append(b, `,"upstream":`...)
	if req.Upstream != nil {
		b = core.AppendJSONString(b, req.Upstream.Name)
	} else {
		b = append(b, `""`...)
	}
	b = append(b, `,"model":`...)
	b = core.AppendJSONString(b, req.Model)
	if req.Stream {
		b = append(b, `,"stream":true`...)
	} else {
		b = append(b, `,"stream":false`...)
	}
	b = append(b, `,"customer":`...)
	b = core.AppendJSONString(b, req.Customer)
	b = append(b, `,"metadata":{`...)
	keys := make([]string, 0, len(req.Metadata))
	for k := range req.Metadata {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = core.AppendJSONString(b, k)
		b = append(b, ':')
		b = core.AppendJSONString(b, req.Metadata[k])
	}
	return append(b, '}')
}

func appendHeader(b []byte, h http.Header) []byte {
	b = append(b, '{')
	first := true
	for k, vs := range h {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = core.AppendJSONString(b, k)
		b = append(b, ":["...)
		for i, v := range vs {
			if i > 0 {
				b = append(b, ',')
			}
			b = core.AppendJSONString(b, v)
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

func appendUsage(b []byte, u core.Usage, known bool) []byte {
	if !known {
		return append(b, "null"...)
	}
	b = append(b, `{"input_tokens":`...)
	b = appendInt(b, u.InputTokens)
	b = append(b, `,"output_tokens":`...)
	b = appendInt(b, u.OutputTokens)
	b = append(b, `,"total_tokens":`...)
	b = appendInt(b, u.InputTokens+u.OutputTokens)
	b = append(b, `,"cached_input_tokens":`...)
	b = appendInt(b, u.CachedInputTokens)
	b = append(b, `,"cache_write_tokens":`...)
	b = appendInt(b, u.CacheWriteTokens)
	b = append(b, `,"reasoning_tokens":`...)
	b = appendInt(b, u.ReasoningTokens)
	if u.Estimated {
		b = append(b, `,"usage_estimated":true`...)
	}
	return append(b, '}')
}

// appendBody appends the body field: raw JSON when isJSON, else body_text.
func appendBody(b, body []byte, isJSON bool) []byte {
	switch {
	case len(body) == 0:
		return append(b, `,"body":null`...)
	case isJSON:
		b = append(b, `,"body":`...)
		return append(b, body...)
	}
	b = append(b, `,"body":null,"body_text":`...)
	return core.AppendJSONString(b, string(body))
}

func appendInt(b []byte, n int64) []byte {
	if n >= 0 && n < 10 {
		return append(b, byte('0'+n))
	}
	var tmp [20]byte
	i := len(tmp)
	neg := n < 0
	u := uint64(n)
	if neg {
		u = uint64(-n)
	}
	for u > 0 {
		i--
		tmp[i] = byte('0' + u%10)
		u /= 10
	}
	if neg {
		i--
		tmp[i] = '-'
	}
	return append(b, tmp[i:]...)
}
