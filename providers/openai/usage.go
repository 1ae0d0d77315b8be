package openai

import (
	"bytes"
	"cmp"

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
		return responsesUsage(req, body)
	case !metered(req.Operation):
		return core.Usage{}, false
	}
	obj, ok := jsonscan.LastField(str(body), "usage")
	if !ok || jsonscan.KindOf(obj) != jsonscan.Object {
		return answerWithoutUsage(req, body), false
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
		switch {
		case bytes.Equal(ev.Data, doneData):
			o.done = true
		case hasContent(ev.Data):
			if !o.reported {
				u.OutputTokens++
				u.Estimated = true
			}
		case o.failure == "" && hasErrorKey(ev.Data):
			// A chunk without text may carry its error beside the choices
			// (OpenRouter's, mid-answer); chunks with text, nearly all of
			// them, are not searched.
			o.failure = errorField(str(ev.Data))
		}
		return true
	}
	o.reported = true
	return !(o.hide && emptyChoices(ev.Data))
}

// Failure is the error the stream carried in place of a chunk, if any.
func (o *observer) Failure() string { return o.failure }

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
