package gemini

import (
	"bytes"
	"unsafe"

	"github.com/tidwall/gjson"

	"github.com/tollgate-dev/tollgate/core"
)

// parseUsage normalizes a usageMetadata object.
func parseUsage(m gjson.Result) core.Usage {
	var prompt, toolPrompt, candidates, thoughts, cached int64
	m.ForEach(func(k, v gjson.Result) bool {
		switch k.Str {
		case "promptTokenCount":
			prompt = v.Int()
		case "toolUsePromptTokenCount":
			toolPrompt = v.Int()
		case "candidatesTokenCount":
			candidates = v.Int()
		case "thoughtsTokenCount":
			thoughts = v.Int()
		case "cachedContentTokenCount":
			cached = v.Int()
		}
		return true
	})
	in, out := prompt+toolPrompt, candidates+thoughts
	return core.Usage{InputTokens: in, OutputTokens: out, TotalTokens: in + out,
		CachedInputTokens: cached, ReasoningTokens: thoughts}
}

// Usage reads usageMetadata from a whole answer. A streamGenerateContent
// call without alt=sse answers with a JSON array of chunks; its last chunk
// carries the final counts.
func (Format) Usage(_ *core.Request, body []byte) (core.Usage, bool) {
	r := gjson.Parse(str(body))
	if r.IsArray() {
		arr := r.Array()
		if len(arr) == 0 {
			return core.Usage{}, false
		}
		r = arr[len(arr)-1]
	}
	m := r.Get("usageMetadata")
	if !m.IsObject() {
		return core.Usage{}, false
	}
	return parseUsage(m), true
}

// ObserveStream reads usageMetadata from each chunk: Gemini's counts are
// cumulative, so each report replaces the last. The stream is finished when
// a chunk carries a finishReason.
func (Format) ObserveStream(*core.Request) core.StreamObserver { return &observer{} }

type observer struct{ done bool }

var (
	usageKey  = []byte(`"usageMetadata"`)
	finishKey = []byte(`"finishReason"`)
)

// Observe updates u from a chunk's usageMetadata. Every chunk is kept.
func (o *observer) Observe(ev *core.Event, u *core.Usage) bool {
	if bytes.Contains(ev.Data, finishKey) {
		o.done = true
	}
	if obj := objectAfter(ev.Data, usageKey); obj != nil {
		*u = parseUsage(gjson.Parse(str(obj)))
		u.Estimated = !o.done // counts so far, until the last chunk
	}
	return true
}

// objectAfter returns the JSON object that is the value of the last
// occurrence of key in b, or nil. Gemini puts usageMetadata after the
// candidates (whose function-call arguments could hold the same key);
// reading only that object skips parsing the answer text.
func objectAfter(b, key []byte) []byte {
	i := bytes.LastIndex(b, key)
	if i < 0 {
		return nil
	}
	j := i + len(key)
	for j < len(b) && (b[j] == ' ' || b[j] == ':' || b[j] == '\n' || b[j] == '\r' || b[j] == '\t') {
		j++
	}
	if j >= len(b) || b[j] != '{' {
		return nil
	}
	depth, inString := 0, false
	for k := j; k < len(b); k++ {
		c := b[k]
		if inString {
			switch c {
			case '\\':
				k++
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
			if depth--; depth == 0 {
				return b[j : k+1]
			}
		}
	}
	return nil
}

// Finished reports whether the chunk with a finishReason has passed.
func (o *observer) Finished() bool { return o.done }

// str views b as a string without copying: the bytes are not modified while
// the string is in use, and gjson results taken from it are not kept.
func str(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
