package openai

import (
	"strings"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/internal/jsonscan"
)

// The prompt estimate (docs/usage-events.md, "The prompt's estimate"):
// OpenAI reports a call's usage only at its end, so a call cut short
// before then has no count of the prompt the upstream bills. The estimate
// counts the prompt's text at OpenAI's rule of thumb, about 4 bytes of
// UTF-8 text a token, plus what OpenAI's cookbook counts around each
// message (its markers and role) and the reply.
const (
	bytesPerToken   = 4
	messageOverhead = 4 // <|start|>{role}<|message|> … <|end|>: 3 markers and the role
	replyOverhead   = 3 // every reply is primed with <|start|>assistant<|message|>
	// maxPromptDepth bounds how deep into a message the text is looked
	// for: the deepest text is a tool call's arguments (message, tool_calls,
	// call, function, arguments), and a body nested deeper costs no more
	// than this many passes over it.
	maxPromptDepth = 6
)

// PromptTokens estimates the tokens of req's prompt from its body's text:
// the messages' content (a string, or the text of its parts), the
// Responses API's instructions and input, a completion's prompt, and the
// tools' names, descriptions and parameter schemas (as JSON). Images,
// audio and files count nothing: their bytes are not text, and what they
// cost depends on the model and the image's size. A body that is not
// valid JSON gives 0, and so does an operation that is not a chat, a
// completion or a response. The engine asks for it only for a call that
// reached the upstream and ended without a usage report
// ([core.PromptEstimator]).
func (Format) PromptTokens(req *core.Request) int64 {
	switch req.Operation {
	case OpChatCompletions, OpCompletions, OpResponses:
		return promptTokens(req.Body)
	}
	return 0
}

func promptTokens(body []byte) int64 {
	if !jsonscan.Valid(body) {
		return 0
	}
	var p prompt
	jsonscan.Fields(str(body), func(k, v string) {
		switch k {
		case "messages", "input", "prompt":
			p.messages(v)
		case "instructions":
			p.messages(v) // a system message of its own
		case "tools", "functions":
			p.text(v, 0)
		}
	})
	if p.count == 0 && p.bytes == 0 {
		return 0
	}
	return int64(p.bytes+bytesPerToken-1)/bytesPerToken + messageOverhead*p.count + replyOverhead
}

// prompt is what the estimate has counted so far.
type prompt struct {
	bytes int64 // of text
	count int64 // messages
}

// messages counts v, a message list (an array) or one message (a string,
// such as the Responses API's input or instructions).
func (p *prompt) messages(v string) {
	switch jsonscan.KindOf(v) {
	case jsonscan.String:
		p.count++
		p.bytes += textBytes(v)
	case jsonscan.Array:
		jsonscan.Elements(v, func(m string) {
			p.count++
			p.text(m, 0)
		})
	}
}

// text counts the text in v: a string, the strings in an array, and in an
// object the fields that hold text or hold what does (textFields).
func (p *prompt) text(v string, depth int) {
	if depth > maxPromptDepth {
		return
	}
	switch jsonscan.KindOf(v) {
	case jsonscan.String:
		p.bytes += textBytes(v)
	case jsonscan.Array:
		jsonscan.Elements(v, func(e string) { p.text(e, depth+1) })
	case jsonscan.Object:
		jsonscan.Fields(v, func(k, f string) {
			switch {
			case k == "parameters":
				p.bytes += int64(len(f)) // a tool's schema, counted as its JSON
			case textFields[k]:
				p.text(f, depth+1)
			}
		})
	}
}

// textFields are the fields of a message, a part, an item or a tool whose
// value is text or holds text. Every other field is skipped: a part's
// image_url, input_audio, file or file_data (base64 that would count many
// times what the model is billed), a reasoning item's encrypted_content,
// and the role, type and id fields the overheads stand for.
var textFields = map[string]bool{
	"content":     true, // a message's: a string or parts
	"text":        true, // a part's: text, input_text, output_text, summary_text
	"refusal":     true,
	"name":        true, // a message's author, a tool's or function's name
	"description": true,
	"tool_calls":  true,
	"function":    true, // a tool call's or a tool's
	"arguments":   true,
	"output":      true, // a function_call_output's: a string or parts
	"summary":     true, // a reasoning item's
	"input":       true, // a custom tool call's
}

// textBytes is the length in UTF-8 of the text of raw, a JSON string,
// without decoding it: an escape counts the bytes of what it stands for.
func textBytes(raw string) int64 {
	s := raw[1 : len(raw)-1] // valid JSON: the quotes are there
	if strings.IndexByte(s, '\\') < 0 {
		return int64(len(s))
	}
	var n int64
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			n++
			continue
		}
		i++
		if s[i] != 'u' {
			n++ // \n, \", …: one byte
			continue
		}
		switch r := hex4(s[i+1 : i+5]); {
		case r < 0x80:
			n++
		case r < 0x800, r >= 0xD800 && r < 0xE000:
			n += 2 // each half of a surrogate pair: 4 bytes in all
		default:
			n += 3
		}
		i += 4
	}
	return n
}

// hex4 reads four hex digits, as valid JSON has them after \u.
func hex4(s string) rune {
	var r rune
	for i := 0; i < 4; i++ {
		c := s[i]
		switch {
		case c >= 'a':
			c -= 'a' - 10
		case c >= 'A':
			c -= 'A' - 10
		default:
			c -= '0'
		}
		r = r<<4 | rune(c)
	}
	return r
}

var _ core.PromptEstimator = Format{}
