package gemini

import (
	"bytes"
	"fmt"
	"unsafe"

	"github.com/tidwall/gjson"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/internal/jsonscan"
)

// parseUsage normalizes a usageMetadata object under core's rule for
// reported usage: a report that cannot be true gives estimate instead,
// flagged, and false.
func parseUsage(m gjson.Result, estimate core.Usage) (core.Usage, bool) {
	var prompt, toolPrompt, candidates, thoughts, cached int64
	var bad error
	m.ForEach(func(k, v gjson.Result) bool {
		var dst *int64
		switch k.Str {
		case "promptTokenCount":
			dst = &prompt
		case "toolUsePromptTokenCount":
			dst = &toolPrompt
		case "candidatesTokenCount":
			dst = &candidates
		case "thoughtsTokenCount":
			dst = &thoughts
		case "cachedContentTokenCount":
			dst = &cached
		default:
			return true
		}
		n, _, err := core.ReadCount(k.Str, v.Raw)
		if err != nil && bad == nil {
			bad = err
		}
		*dst = n
		return true
	})
	// A sum that wraps breaks the rule (a negative count).
	return core.ReportedUsage(core.Usage{InputTokens: prompt + toolPrompt, OutputTokens: candidates + thoughts,
		CachedInputTokens: cached, ReasoningTokens: thoughts}, bad, m.Raw, estimate)
}

// Usage reads usageMetadata from a whole answer. A streamGenerateContent
// call without alt=sse answers with a JSON array of chunks; its last chunk
// carries the final counts, and an array cut off records the counts of
// its last whole chunk, as estimated.
func (Format) Usage(req *core.Request, body []byte) (core.Usage, bool) {
	s := str(body)
	if i := skipSpace(body, 0); i < len(body) && body[i] == '[' {
		var last string
		n := 0
		if !jsonscan.Elements(s, func(raw string) { last, n = raw, n+1 }) {
			var u core.Usage
			if m := gjson.Get(last, "usageMetadata"); m.IsObject() {
				u, _ = parseUsage(m, u)
			}
			return core.EstimatedUsage(u, fmt.Sprintf("the answer's JSON array is cut off after %d whole chunks", n)), false
		}
		s = last
	}
	m := gjson.Get(s, "usageMetadata")
	if !m.IsObject() {
		if req.Operation == OpGenerateContent || req.Operation == OpStreamGenerateContent {
			return core.AnswerWithoutUsage(body), false
		}
		return core.Usage{}, false
	}
	return parseUsage(m, core.Usage{})
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\n' || b[i] == '\t' || b[i] == '\r') {
		i++
	}
	return i
}

// ObserveStream reads usageMetadata from each chunk: Gemini's counts are
// cumulative, so each report replaces the last. The stream is finished when
// a candidate has a finishReason; a chunk that is an error object, not a
// candidate, is the stream's failure.
func (Format) ObserveStream(*core.Request) core.StreamObserver { return &observer{} }

type observer struct {
	done    bool
	failure string
}

var (
	usageKey  = []byte(`"usageMetadata"`)
	finishKey = []byte(`"finishReason"`)
	errorKey  = []byte(`"error"`)
)

// Observe updates u from a chunk's usageMetadata. Every chunk is kept.
func (o *observer) Observe(ev *core.Event, u *core.Usage) bool {
	if !o.done && bytes.Contains(ev.Data, finishKey) {
		o.done = finished(str(ev.Data))
	}
	if o.failure == "" && leadsWithError(ev.Data) {
		o.failure = streamError(str(ev.Data))
	}
	if obj := objectAfter(ev.Data, usageKey); obj != nil {
		est := *u // the counts so far stand in for a report that cannot be true
		est.Estimated = true
		*u, _ = parseUsage(gjson.Parse(str(obj)), est)
		u.Estimated = u.Estimated || !o.done // counts so far, until the last chunk
	}
	return true
}

// finished reports whether a candidate of the chunk has a finishReason —
// where Gemini puts it, not anywhere the key appears (a function call's
// arguments may hold it too).
func finished(chunk string) bool {
	cands, _ := jsonscan.Field(chunk, "candidates")
	done := false
	jsonscan.Elements(cands, func(c string) {
		if r, _ := jsonscan.Field(c, "finishReason"); r != "" && r != "null" && r != `""` {
			done = true
		}
	})
	return done
}

// leadsWithError reports whether the chunk's first key is "error", as in
// the error object Gemini sends in place of a chunk: a few byte
// comparisons, not a search of every chunk.
func leadsWithError(data []byte) bool {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return false
	}
	return bytes.HasPrefix(data[skipSpace(data, i+1):], errorKey)
}

// streamError describes a chunk that is an error object —
// {"error":{"code":503,"message":…,"status":"UNAVAILABLE"}} — or returns "".
func streamError(chunk string) string {
	obj, _ := jsonscan.Field(chunk, "error")
	if jsonscan.KindOf(obj) != jsonscan.Object {
		return ""
	}
	var status, code, msg string
	jsonscan.Fields(obj, func(k, v string) {
		switch k {
		case "status":
			status, _ = jsonscan.Unquote(v)
		case "code":
			code = v
		case "message":
			msg, _ = jsonscan.Unquote(v)
		}
	})
	if status == "" {
		status = code
	}
	return status + ": " + msg
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

// Failure is the error the stream carried in place of a chunk, if any.
func (o *observer) Failure() string { return o.failure }

var _ core.StreamFailer = (*observer)(nil)

// str views b as a string without copying: the bytes are not modified while
// the string is in use, and gjson results taken from it are not kept.
func str(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
