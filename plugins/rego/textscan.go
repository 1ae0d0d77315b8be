package rego

import (
	"strings"
	"unsafe"

	"github.com/tidwall/gjson"
)

// The prompt texts of the common formats are read without gjson, in one
// pass: a chat's messages while the body's fields are parsed (see
// textScan), or a list gjson found (see messages). The scanner handles the
// shape clients send: an array of objects with plain keys, each key once,
// the role a string or absent, the content a string, an array of objects
// or anything else (no text). For any other shape, or JSON it does not
// accept, it gives up and the texts are read with gjson, as before: the
// texts are always gjson's.

// textScan collects the prompt texts of a chat (OpenAI chat completions,
// Anthropic messages) while jsonFields walks the body's top-level object:
// the messages are read in place of being skipped, so the body is walked
// once. Fields are read only at their first occurrence, as gjson does.
type textScan struct {
	list   string // the top-level field of the messages
	system bool   // Anthropic: a top-level system prompt too
	// src is the body as a string, in place: the texts point into the
	// request's body, which no one changes while the call lasts (a stage
	// replaces a body, it does not write over it). What outlives the call
	// (the shared term tables) keeps copies of its own (interned, textTerm).
	src              string
	msgs, sys        []textPart
	seenList, seenSy bool
	failed           bool
	// buf holds the messages' texts of a short chat.
	buf [8]textPart
}

// init readies t for a request's format, and reports false for the
// formats read with gjson.
func (t *textScan) init(provider, op string) bool {
	switch {
	case provider == "openai" && op == "chat.completions":
		*t = textScan{list: "messages"}
	case provider == "anthropic":
		*t = textScan{list: "messages", system: true}
	default:
		return false
	}
	t.msgs = t.buf[:0]
	return true
}

// newTextScan returns a textScan for a request's format, or nil for the
// formats read with gjson.
func newTextScan(provider, op string) *textScan {
	t := new(textScan)
	if !t.init(provider, op) {
		return nil
	}
	return t
}

// wants reports whether a top-level field holds texts.
func (t *textScan) wants(key []byte) bool {
	return string(key) == t.list || t.system && string(key) == "system"
}

// field is called by jsonFields at a top-level field whose key has no
// escapes, with the cursor on its value. It reports whether it moved past
// the value; when it did not, jsonFields skips or parses it as usual.
func (t *textScan) field(p *jsonParser, key []byte, depth int) bool {
	if t.failed {
		return false
	}
	isList := string(key) == t.list && !t.seenList
	isSys := !isList && t.wants(key) && !t.seenSy
	if !isList && !isSys || p.i >= len(p.b) {
		return false
	}
	if t.src == "" {
		t.src = unsafe.String(unsafe.SliceData(p.b), len(p.b))
	}
	s := jsonScan{p: jsonParser{b: p.b, i: p.i}, raw: t.src}
	ok := false
	if isList {
		t.seenList = true
		t.msgs, ok = scanMessages(&s, t.msgs, t.list, "content", depth)
	} else {
		t.seenSy = true
		switch p.b[p.i] {
		case '"':
			var text string
			if text, ok = s.str(depth); ok {
				t.sys = append(t.sys, textPart{"system", "system", text})
			}
		case '[':
			t.sys, ok = scanParts(&s, t.sys, "system", "system", depth)
		default:
			ok = s.p.skip(depth) == nil
		}
	}
	if !ok {
		t.failed = true
		return false
	}
	p.i = s.p.i
	return true
}

// texts returns the prompt texts, in promptTexts's order.
func (t *textScan) texts() []textPart {
	if len(t.sys) == 0 {
		return t.msgs
	}
	return append(t.sys, t.msgs...)
}

// scanMessages reads a list of {role, content} messages (see messages) at
// the cursor, which it moves past the list; false for any other shape.
func scanMessages(s *jsonScan, out []textPart, list, field string, depth int) ([]textPart, bool) {
	p := &s.p
	start := len(out)
	ok := s.objects(depth, func(i int) bool {
		var role string
		hasRole, hasContent := false, false
		from := len(out)
		ok := s.fields(depth+1, func(key string) bool {
			switch key {
			case "role":
				if hasRole || p.i >= len(p.b) || p.b[p.i] != '"' {
					return false
				}
				hasRole = true
				r, ok := s.str(depth + 2)
				role = r
				return ok
			case field:
				if hasContent {
					return false
				}
				hasContent = true
				if p.i >= len(p.b) {
					return false
				}
				switch p.b[p.i] {
				case '"':
					t, ok := s.str(depth + 2)
					if ok {
						out = append(out, textPart{textPath(list, i, field), "", t})
					}
					return ok
				case '[':
					var ok bool
					out, ok = scanParts(s, out, textPath(list, i, field), "", depth+2)
					return ok
				}
			}
			return p.skip(depth+2) == nil
		})
		if !ok {
			return false
		}
		// The role may follow the content.
		for k := from; k < len(out); k++ {
			out[k].role = role
		}
		return true
	})
	if !ok {
		return out[:start], false
	}
	return out, true
}

// scanParts reads the text of each part of a list of {type: text, text:
// ...} objects (see parts) at the cursor, which it moves past the list;
// false for any other shape.
func scanParts(s *jsonScan, out []textPart, base, role string, depth int) ([]textPart, bool) {
	p := &s.p
	start := len(out)
	ok := s.objects(depth, func(j int) bool {
		var text string
		has, isText := false, false
		ok := s.fields(depth+1, func(key string) bool {
			if key != "text" {
				return p.skip(depth+2) == nil
			}
			if has {
				return false
			}
			has = true
			if p.i < len(p.b) && p.b[p.i] == '"' {
				t, ok := s.str(depth + 2)
				text, isText = t, true
				return ok
			}
			return p.skip(depth+2) == nil
		})
		if ok && isText {
			out = append(out, textPart{textPath(base, j, "text"), role, text})
		}
		return ok
	})
	if !ok {
		return out[:start], false
	}
	return out, true
}

// jsonScan walks JSON held in raw (p.b is the same bytes), for the texts:
// strings read from it share its memory.
type jsonScan struct {
	p   jsonParser
	raw string
}

// newJSONScan returns a scan of a string, without a copy.
func newJSONScan(raw string) jsonScan {
	return jsonScan{p: jsonParser{b: unsafe.Slice(unsafe.StringData(raw), len(raw))}, raw: raw}
}

// elements calls each for every element of the array at the cursor (at
// nesting depth), with the cursor on the element; each must move past it.
// It reports whether the array was read whole.
func (s *jsonScan) elements(depth int, each func(i int) bool) bool {
	p := &s.p
	if depth > maxDepth {
		return false
	}
	p.i++ // [
	p.space()
	if p.i < len(p.b) && p.b[p.i] == ']' {
		p.i++
		return true
	}
	for i := 0; ; i++ {
		p.space()
		if !each(i) {
			return false
		}
		if more, ok := s.next(']'); !more {
			return ok
		}
	}
}

// next moves past what follows an element or a field: a comma (more
// follow) or the closing bracket (the list ends, read whole); anything
// else ends the list unread.
func (s *jsonScan) next(closing byte) (more, ok bool) {
	p := &s.p
	p.space()
	if p.i >= len(p.b) {
		return false, false
	}
	switch p.b[p.i] {
	case ',':
		p.i++
		return true, true
	case closing:
		p.i++
		return false, true
	}
	return false, false
}

// objects calls each for every element of the array at the cursor, with
// the cursor on the element; false if the cursor is not on an array or an
// element is not an object.
func (s *jsonScan) objects(depth int, each func(i int) bool) bool {
	p := &s.p
	if p.i >= len(p.b) || p.b[p.i] != '[' {
		return false
	}
	return s.elements(depth, func(i int) bool {
		return p.i < len(p.b) && p.b[p.i] == '{' && each(i)
	})
}

// fields calls each for every key of the object at the cursor (at nesting
// depth), with the cursor on the key's value; each must move past it. A
// key with escapes is refused (gjson would match it unescaped).
func (s *jsonScan) fields(depth int, each func(key string) bool) bool {
	p := &s.p
	if depth > maxDepth {
		return false
	}
	p.i++ // {
	p.space()
	if p.i < len(p.b) && p.b[p.i] == '}' {
		p.i++
		return true
	}
	for {
		p.space()
		k, escaped, err := p.scanString()
		if err != nil || escaped {
			return false
		}
		p.space()
		if p.i >= len(p.b) || p.b[p.i] != ':' {
			return false
		}
		p.i++
		p.space()
		if !each(unsafe.String(unsafe.SliceData(k), len(k))) {
			return false
		}
		if more, ok := s.next('}'); !more {
			return ok
		}
	}
}

// str reads the string at the cursor, unescaped as gjson does.
func (s *jsonScan) str(depth int) (string, bool) {
	p := &s.p
	start := p.i
	if err := p.skip(depth); err != nil {
		return "", false
	}
	return unquote(s.raw[start:p.i])
}

// unquote returns the text of a JSON string literal: a substring when it
// has no escapes, else gjson's unescaping.
func unquote(lit string) (string, bool) {
	if len(lit) < 2 || lit[0] != '"' || lit[len(lit)-1] != '"' {
		return "", false
	}
	if strings.IndexByte(lit, '\\') >= 0 {
		return gjson.Parse(lit).Str, true
	}
	return lit[1 : len(lit)-1], true
}
