package rego

import (
	"strconv"
	"sync"

	"github.com/tidwall/gjson"
)

// textPart is one piece of prompt text and where it sits in the body, as a
// gjson/sjson path ("messages.1.content"), so that a policy can patch it
// (redact) without knowing the wire format.
type textPart struct {
	path, role, text string
}

// promptTexts extracts every prompt text of a request body: system
// instructions and messages, in order, for the formats tollgate speaks.
// Images, audio and tool schemas are left out.
func promptTexts(provider, op string, body []byte) []textPart {
	var out []textPart
	root := gjson.ParseBytes(body)
	switch provider {
	case "openai":
		switch op {
		case "chat.completions":
			out = messages(out, root, "messages", "content")
		case "completions":
			out = stringOrList(out, root, "prompt", "user")
		case "embeddings":
			out = stringOrList(out, root, "input", "user")
		case "responses":
			if s := root.Get("instructions"); s.Type == gjson.String {
				out = append(out, textPart{"instructions", "system", s.Str})
			}
			if in := root.Get("input"); in.Type == gjson.String {
				out = append(out, textPart{"input", "user", in.Str})
			} else {
				out = messages(out, root, "input", "content")
			}
		}
	case "anthropic":
		if s := root.Get("system"); s.Type == gjson.String {
			out = append(out, textPart{"system", "system", s.Str})
		} else if s.IsArray() {
			out = parts(out, s, "system", "system", "text")
		}
		out = messages(out, root, "messages", "content")
	case "gemini":
		if s := root.Get("systemInstruction.parts"); s.IsArray() {
			out = parts(out, s, "systemInstruction.parts", "system", "text")
		}
		i := 0
		root.Get("contents").ForEach(func(_, c gjson.Result) bool {
			role := c.Get("role").Str
			if role == "" {
				role = "user"
			}
			out = parts(out, c.Get("parts"), textPath("contents", i, "parts"), role, "text")
			i++
			return true
		})
	}
	return out
}

// messages reads a list of {role, content} where content is a string or a
// list of parts with text.
func messages(out []textPart, root gjson.Result, list, field string) []textPart {
	v := root.Get(list)
	s := newJSONScan(v.Raw)
	if r, ok := scanMessages(&s, out, list, field, 1); ok {
		return r
	}
	i := 0
	v.ForEach(func(_, m gjson.Result) bool {
		role := m.Get("role").Str
		c := m.Get(field)
		switch {
		case c.Type == gjson.String:
			out = append(out, textPart{textPath(list, i, field), role, c.Str})
		case c.IsArray():
			out = parts(out, c, textPath(list, i, field), role, "text")
		}
		i++
		return true
	})
	return out
}

// parts reads the text of each part of a list: {type: text, text: ...}.
func parts(out []textPart, list gjson.Result, base, role, field string) []textPart {
	j := 0
	list.ForEach(func(_, p gjson.Result) bool {
		if t := p.Get(field); t.Type == gjson.String {
			out = append(out, textPart{textPath(base, j, field), role, t.Str})
		}
		j++
		return true
	})
	return out
}

func stringOrList(out []textPart, root gjson.Result, field, role string) []textPart {
	v := root.Get(field)
	if v.Type == gjson.String {
		return append(out, textPart{field, role, v.Str})
	}
	j := 0
	v.ForEach(func(_, s gjson.Result) bool {
		if s.Type == gjson.String {
			out = append(out, textPart{textPath(field, j, ""), role, s.Str})
		}
		j++
		return true
	})
	return out
}

// textPath returns the path prefix.i.field ("messages.1.content"), or
// prefix.i without a field. The paths calls use are few, so each string is
// made once and shared (see interned).
func textPath(prefix string, i int, field string) string {
	k := pathKey{prefix, i, field}
	pathMu.RLock()
	p, ok := pathTable[k]
	pathMu.RUnlock()
	if ok {
		return p
	}
	p = prefix + "." + strconv.Itoa(i)
	if field != "" {
		p += "." + field
	}
	pathMu.Lock()
	if len(pathTable) >= maxInterned {
		pathTable = make(map[pathKey]string, maxInterned)
	}
	pathTable[k] = p
	pathMu.Unlock()
	return p
}

type pathKey struct {
	prefix string
	i      int
	field  string
}

var (
	pathMu    sync.RWMutex
	pathTable = make(map[pathKey]string, 64)
)

// answerText extracts the text of a whole (not streamed) answer.
func answerText(provider, op string, body []byte) string {
	var b []byte
	add := func(_, r gjson.Result) bool {
		if r.Type == gjson.String {
			b = append(b, r.Str...)
		}
		return true
	}
	root := gjson.ParseBytes(body)
	switch provider {
	case "openai":
		switch op {
		case "chat.completions":
			root.Get("choices.#.message.content").ForEach(add)
		case "completions":
			root.Get("choices.#.text").ForEach(add)
		case "responses":
			root.Get("output").ForEach(func(_, item gjson.Result) bool {
				item.Get("content").ForEach(func(_, c gjson.Result) bool {
					if c.Get("type").Str == "output_text" {
						add(c, c.Get("text"))
					}
					return true
				})
				return true
			})
		}
	case "anthropic":
		root.Get("content").ForEach(func(_, c gjson.Result) bool {
			if c.Get("type").Str == "text" {
				add(c, c.Get("text"))
			}
			return true
		})
	case "gemini":
		root.Get("candidates.#.content.parts.#.text").ForEach(func(_, texts gjson.Result) bool {
			texts.ForEach(add)
			return true
		})
	}
	return string(b)
}

// deltaText appends the answer text one stream event carries.
func deltaText(b []byte, provider, op, name string, data []byte) []byte {
	if len(data) == 0 || data[0] != '{' {
		return b // [DONE], pings
	}
	add := func(_, r gjson.Result) bool {
		if r.Type == gjson.String {
			b = append(b, r.Str...)
		}
		return true
	}
	switch provider {
	case "openai":
		switch op {
		case "chat.completions":
			gjson.GetBytes(data, "choices.#.delta.content").ForEach(add)
		case "completions":
			gjson.GetBytes(data, "choices.#.text").ForEach(add)
		case "responses":
			if r := gjson.GetManyBytes(data, "type", "delta"); r[0].Str == "response.output_text.delta" {
				add(r[1], r[1])
			}
		}
	case "anthropic":
		if r := gjson.GetManyBytes(data, "type", "delta.type", "delta.text"); r[0].Str == "content_block_delta" && r[1].Str == "text_delta" {
			add(r[2], r[2])
		}
	case "gemini":
		gjson.GetBytes(data, "candidates.#.content.parts.#.text").ForEach(func(_, texts gjson.Result) bool {
			texts.ForEach(add)
			return true
		})
	}
	return b
}
