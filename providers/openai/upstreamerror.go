package openai

import (
	"bytes"
	"cmp"
	"strings"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/internal/jsonscan"
)

// What OpenAI and the servers that copy its API send inside a 200 stream
// when the answer fails (docs/providers.md, "How usage is read from streams"), and some of them
// as a whole 200 answer:
//
//	data: {"error":{"message":…,"type":…,"param":…,"code":…}}   OpenAI, vLLM, SGLang, llama.cpp
//	data: {"error":{"object":"error","message":…,"type":…}}      older vLLM
//	data: {"object":"error","message":…,"type":…,"code":400}     vLLM's ErrorResponse unwrapped
//	data: {"error":"…","error_type":"…"}                          an error that is only a message
//	data: {"id":…,"error":{"code":502,"message":…},"choices":…}  OpenRouter, mid-answer
//	event: error                                                  any of these, named
//
// Some then send [DONE], as if the answer were whole: the error decides.

var (
	errorKey  = []byte(`"error"`) // a key, and vLLM's "object" value
	objectKey = []byte(`"object"`)
)

// mayLeadWithError is streamError's first filter, inlined: false, in
// three byte comparisons, for a chunk whose first key starts with neither
// e nor o ({"id":…, as OpenAI's chunks do).
func mayLeadWithError(d []byte) bool {
	return len(d) > 2 && d[0] == '{' && (d[1] != '"' || d[2] == 'e' || d[2] == 'o')
}

// streamError describes an error a stream carries in place of a chunk —
// a chunk whose first key is "error", one whose first key is "object"
// with the value "error", or an event named error — or returns "". Only a
// chunk's first key is read: a chunk costs a few byte comparisons, not a
// search.
func streamError(ev *core.Event) string {
	switch d := ev.Data; {
	case afterLeadingKey(d, errorKey) > 0:
		if msg := errorField(str(d)); msg != "" {
			return msg
		}
	case isObjectError(d):
		return describeError(str(d))
	}
	if ev.Name == "error" {
		return describeError(str(ev.Data))
	}
	return ""
}

// errorField describes the top-level "error" of a chunk — an object, or
// a message in a string — or returns "" when there is none, or it is null.
func errorField(chunk string) string {
	v, _ := jsonscan.Field(chunk, "error")
	switch jsonscan.KindOf(v) {
	case jsonscan.Object:
		return describeError(v)
	case jsonscan.String:
		return describeError(chunk) // {"error":"…","error_type":"…"}
	}
	return ""
}

var rrorKey = []byte(`rror"`)

// hasErrorKey reports whether "error" is in data. It searches for its
// tail, whose r is rare in a chunk's keys (a search for its quote, the
// most common byte of JSON, would stop at nearly every one), and then
// looks back for the rest.
func hasErrorKey(data []byte) bool {
	for i := 0; ; {
		j := bytes.Index(data[i:], rrorKey)
		if j < 0 {
			return false
		}
		if j += i; j >= 2 && data[j-2] == '"' && data[j-1] == 'e' {
			return true
		}
		i = j + 1
	}
}

// isObjectError reports whether the chunk's first key is "object" and its
// value "error", as vLLM's ErrorResponse is written.
func isObjectError(d []byte) bool {
	i := afterLeadingKey(d, objectKey)
	if i < 0 {
		return false
	}
	if i = skipSpace(d, i); i >= len(d) || d[i] != ':' {
		return false
	}
	return bytes.HasPrefix(d[skipSpace(d, i+1):], errorKey)
}

// afterLeadingKey returns the index just past the object data's first key
// if that key is key, else -1.
func afterLeadingKey(data, key []byte) int {
	i := skipSpace(data, 0)
	if i >= len(data) || data[i] != '{' {
		return -1
	}
	i = skipSpace(data, i+1)
	if !bytes.HasPrefix(data[i:], key) {
		return -1
	}
	return i + len(key)
}

// describeError is "type: message" of an OpenAI error object (the code when
// it has no type), or its raw text cut short when it has neither. It
// copies what it keeps: obj is a view of a stream's buffer, which the next
// event overwrites.
func describeError(obj string) string {
	var kind, code, msg, inner, text, textType string
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
		case "error": // {"error":"…","error_type":"…"}
			text = s
		case "error_type":
			textType = s
		}
	})
	if inner != "" && msg == "" {
		return describeError(inner)
	}
	if kind == "" || kind == "error" { // the Responses API's event type
		kind = cmp.Or(code, textType)
	}
	msg = cmp.Or(msg, text)
	switch {
	case msg != "" && kind != "":
		return kind + ": " + msg
	case msg != "":
		return strings.Clone(msg)
	case kind != "":
		return strings.Clone(kind)
	}
	return "error: " + strings.ToValidUTF8(obj[:min(len(obj), 200)], "")
}

// AnswerFailure describes the error a whole 200 answer of a metered call
// is in place of the answer — the shapes a stream carries, above — or
// returns "". A chat, completions or embeddings answer may have its
// "error" anywhere among its top-level keys; a Responses object has one of
// its own (null, or the error of a response that failed in the
// background), so only its first key counts. It searches the answer:
// the call stage asks only about answers without usage.
func (Format) AnswerFailure(req *core.Request, body []byte) string {
	if !metered(req.Operation) {
		return ""
	}
	if msg := streamError(&core.Event{Data: body}); msg != "" || req.Operation == OpResponses {
		return msg
	}
	if hasErrorKey(body) {
		return errorField(str(body))
	}
	return ""
}

// answerWithoutUsage is core.AnswerWithoutUsage, saying so when the
// answer is the upstream's error.
func answerWithoutUsage(req *core.Request, body []byte) core.Usage {
	if msg := (Format{}).AnswerFailure(req, body); msg != "" {
		return core.EstimatedUsage(core.Usage{}, "the answer is the upstream's error, with no usage to read: "+msg)
	}
	return core.AnswerWithoutUsage(body)
}

var _ core.AnswerFailer = Format{}
