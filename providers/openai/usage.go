package openai

import (
	"bytes"
	"cmp"
	"strings"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/internal/jsonscan"
)

// parseUsage reads OpenAI's usage object on chat completions in one pass
// over its keys, under core's rule for reported usage: a report that
// cannot be true gives estimate instead, flagged, and false.
func parseUsage(obj string, estimate core.Usage) (core.Usage, bool) {
	var u core.Usage
	var bad [4]error // per count: a key given twice counts its last value
	read := func(i int, dst *int64, name, raw string) {
		*dst, _, bad[i] = core.ReadCount(name, raw)
	}
	jsonscan.Fields(obj, func(k, v string) {
		switch k {
		case "prompt_tokens":
			read(0, &u.InputTokens, k, v)
		case "completion_tokens":
			read(1, &u.OutputTokens, k, v)
		case "prompt_tokens_details":
			read(2, &u.CachedInputTokens, "prompt_tokens_details.cached_tokens", field(v, "cached_tokens"))
		case "completion_tokens_details":
			read(3, &u.ReasoningTokens, "completion_tokens_details.reasoning_tokens", field(v, "reasoning_tokens"))
		}
	})
	return core.ReportedUsage(u, cmp.Or(bad[0], bad[1], bad[2], bad[3]), obj, estimate)
}

// field is the raw value of the field name of the object obj, or "".
func field(obj, name string) string {
	raw, _ := jsonscan.Field(obj, name)
	return raw
}

var usageKey = []byte(`"usage"`)

// Usage reads the usage object of a whole response body. OpenAI puts it
// after the choices, so it is found from the end (jsonscan.LastField) and
// the answer's text is not read at all.
func (Format) Usage(req *core.Request, body []byte) (core.Usage, bool) {
	switch {
	case req.Operation == OpResponses:
		return responsesUsage(body)
	case !metered(req.Operation):
		return core.Usage{}, false
	}
	obj, ok := jsonscan.LastField(str(body), "usage")
	if !ok || jsonscan.KindOf(obj) != jsonscan.Object {
		return core.AnswerWithoutUsage(body), false
	}
	return parseUsage(obj, core.Usage{})
}

// objectAfterKey returns the JSON object that is the value of the last
// occurrence of key in b, or nil if that value is not an object.
func objectAfterKey(b, key []byte) []byte {
	i := bytes.LastIndex(b, key)
	if i < 0 {
		return nil
	}
	j := skipSpace(b, i+len(key))
	if j >= len(b) || b[j] != ':' {
		return nil
	}
	j = skipSpace(b, j+1)
	if j >= len(b) || b[j] != '{' {
		return nil
	}
	end := matchBrace(b, j)
	if end < 0 {
		return nil
	}
	return b[j : end+1]
}

// mayLeadWithError is streamError's first filter, inlined: false, in
// three byte comparisons, for a chunk whose first key does not start with
// e ({"id":…, as OpenAI's chunks do).
func mayLeadWithError(d []byte) bool {
	return len(d) > 2 && d[0] == '{' && (d[1] != '"' || d[2] == 'e')
}

// leadsWith reports whether the object data's first key is key.
func leadsWith(data, key []byte) bool {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return false
	}
	return bytes.HasPrefix(data[skipSpace(data, i+1):], key)
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\t' || b[i] == '\r') {
		i++
	}
	return i
}

// matchBrace returns the index of the brace closing the object at b[i].
func matchBrace(b []byte, i int) int {
	depth, inString := 0, false
	for ; i < len(b); i++ {
		c := b[i]
		if inString {
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}

// ObserveStream reads usage from the chunk that carries it and hides that
// chunk when the gateway asked for it on the client's behalf. Until that
// chunk arrives it counts content chunks (OpenAI sends about one token per
// chunk), so a stream cut short still records an estimate of its output.
func (Format) ObserveStream(req *core.Request) core.StreamObserver {
	switch {
	case req.Operation == OpResponses:
		return &responsesObserver{}
	case !metered(req.Operation):
		return nil
	}
	st, _ := req.State().(*parsed)
	return &observer{hide: st != nil && st.hideUsage}
}

// observer reads one stream's usage.
type observer struct {
	hide     bool
	reported bool
	done     bool
	failure  string
}

var doneData = []byte("[DONE]")

// Finished reports whether "data: [DONE]" has passed.
func (o *observer) Finished() bool { return o.done }

// Observe reads usage and hides the usage-only chunk (empty choices) the
// client did not ask for.
func (o *observer) Observe(ev *core.Event, u *core.Usage) bool {
	if o.failure == "" && (ev.Name != "" || mayLeadWithError(ev.Data)) {
		o.failure = streamError(ev)
	}
	if !readStreamUsage(ev.Data, u) {
		if bytes.Equal(ev.Data, doneData) {
			o.done = true
		} else if !o.reported && hasContent(ev.Data) {
			u.OutputTokens++
			u.Estimated = true
		}
		return true
	}
	o.reported = true
	return !(o.hide && emptyChoices(ev.Data))
}

// Failure is the error the stream carried in place of a chunk, if any.
func (o *observer) Failure() string { return o.failure }

var errorKey = []byte(`"error"`)

// streamError describes an error an OpenAI stream carries in place of a
// chunk — data: {"error":{"message","type",…}}, or an event named error —
// or returns "". Only a chunk whose first key is "error" is read, as
// OpenAI sends it: a chunk costs a few byte comparisons, not a search.
func streamError(ev *core.Event) string {
	if ev.Name != "error" && !leadsWith(ev.Data, errorKey) {
		return ""
	}
	obj, found := jsonscan.Field(str(ev.Data), "error")
	switch {
	case found && jsonscan.KindOf(obj) == jsonscan.Object:
		return describeError(obj)
	case ev.Name == "error":
		return describeError(str(ev.Data))
	}
	return ""
}

// describeError is "type: message" of an OpenAI error object (the code when
// it has no type), or its raw text cut short when it has neither.
func describeError(obj string) string {
	var kind, code, msg, inner string
	jsonscan.Fields(obj, func(k, v string) {
		if k == "error" && jsonscan.KindOf(v) == jsonscan.Object {
			inner = v // {"type":"error","error":{…}}
		}
		s, ok := jsonscan.Unquote(v)
		if !ok && jsonscan.KindOf(v) == jsonscan.Number {
			s = v
		}
		switch k {
		case "type":
			kind = s
		case "code":
			code = s
		case "message":
			msg = s
		}
	})
	if inner != "" && msg == "" {
		return describeError(inner)
	}
	if kind == "" || kind == "error" { // the Responses API's event type
		kind = code
	}
	switch {
	case msg != "" && kind != "":
		return kind + ": " + msg
	case msg != "":
		return msg
	case kind != "":
		return kind
	}
	return "error: " + strings.ToValidUTF8(obj[:min(len(obj), 200)], "")
}

var _ core.StreamFailer = (*observer)(nil)

var contentKey = []byte(`"content":"`)

// hasContent reports whether a chunk carries non-empty delta content.
func hasContent(data []byte) bool {
	i := bytes.Index(data, contentKey)
	return i >= 0 && i+len(contentKey) < len(data) && data[i+len(contentKey)] != '"'
}

// readStreamUsage sets u from a chunk that carries a usage object and
// reports whether it did. Most chunks carry none, or "usage":null; they cost
// one byte search.
func readStreamUsage(data []byte, u *core.Usage) bool {
	obj := objectAfterKey(data, usageKey)
	if obj == nil {
		return false
	}
	*u, _ = parseUsage(str(obj), *u) // until now u counted content chunks
	return true
}

var choicesKey = []byte(`"choices"`)

func emptyChoices(data []byte) bool {
	i := bytes.Index(data, choicesKey)
	if i < 0 {
		return true
	}
	j := skipSpace(data, i+len(choicesKey))
	if j >= len(data) || data[j] != ':' {
		return false
	}
	j = skipSpace(data, j+1)
	if j >= len(data) || data[j] != '[' {
		return false
	}
	j = skipSpace(data, j+1)
	return j < len(data) && data[j] == ']'
}
