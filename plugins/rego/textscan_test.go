package rego

import (
	"math/rand"
	"reflect"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

// TestTextScanMatchesGJSON compares the one-pass readings of the prompt
// texts (while the body's fields are parsed, and of a list gjson found)
// with the gjson reading they replace (refPromptTexts, the code before),
// on written bodies of odd shapes and on random ones.
func TestTextScanMatchesGJSON(t *testing.T) {
	bodies := append([]string(nil), textScanBodies...)
	rng := rand.New(rand.NewSource(1))
	for range 3000 {
		bodies = append(bodies, randomChat(rng))
	}
	for _, body := range bodies {
		checkTextScan(t, body)
	}
}

// FuzzTextScanMatchesGJSON is TestTextScanMatchesGJSON on arbitrary bodies.
func FuzzTextScanMatchesGJSON(f *testing.F) {
	for _, b := range textScanBodies {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body string) { checkTextScan(t, body) })
}

var textScanFormats = [][2]string{
	{"openai", "chat.completions"}, {"anthropic", "messages"}, {"openai", "responses"},
	{"openai", "completions"}, {"openai", "embeddings"}, {"gemini", "generateContent"},
}

var textScanBodies = []string{
	benchBody,
	`{"messages":[{"content":"q","role":"user"}]}`,
	`{"messages":[{"role":"user","content":"a\nb \"c\" \u00e9 \ud83d\ude00"}]}`,
	`{"messages":[{"role":"user","content":[{"text":"x","type":"text"},{"type":"image"},{"text":1},{"text":"y\t"}]}]}`,
	`{"messages":[{"role":"user","role":"system","content":"dup"}]}`,
	`{"messages":[{"role":"user","content":"a","content":"b"}]}`,
	`{"messages":[{"r\u006fle":"user","content":"esc"}]}`,
	`{"m\u0065ssages":[{"role":"user","content":"esc key"}]}`,
	`{"messages":[{"role":"user","content":"first"}],"messages":[{"role":"user","content":"second"}]}`,
	`{"messages":{"a":{"role":"user","content":"object list"}}}`,
	`{"messages":"a string"}`,
	`{"messages":["str",{"role":"user","content":"after"}]}`,
	`{"messages":[{"role":1,"content":"num role"}]}`,
	`{"messages":[{"role":"user","content":null},{"role":"user","content":{"text":"obj"}}]}`,
	`{"messages":[{"role":"user","content":[{"text":"p"},"s",{"text":"q"}]}]}`,
	`{"messages":[{"role":"user","content":[{"text":"a","text":"b"}]}]}`,
	`{"messages":[]}`, `{"messages":[{}]}`, `{}`, `[]`, `"x"`, `{"messages":[{"role":"user","content":"x"}]`,
	`{"system":"sys","messages":[{"role":"user","content":"q"}]}`,
	`{"messages":[{"role":"user","content":"q"}],"system":[{"type":"text","text":"s1"},{"text":"s2"}]}`,
	`{"system":{"text":"obj"},"messages":[]}`,
	`{"system":["s"],"messages":[]}`,
	`{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"q"}],"user":"u"}`,
	` { "messages" : [ { "role" : "user" , "content" : [ { "text" : "sp" } ] } ] } `,
	`{"messages":[{"role":"user","content":"bad \x escape"}]}`,
	`{"messages":[{"role":"user","content":"ctl ` + "\x01" + `"}]}`,
	`{"input":[{"role":"user","content":[{"type":"input_text","text":"q"}]}],"instructions":"i"}`,
	`{"contents":[{"parts":[{"text":"g"}]}]}`,
}

// checkTextScan compares, for each format, the texts read in one pass
// (when that pass accepts the body) and promptTexts with the reference.
func checkTextScan(t *testing.T, body string) {
	t.Helper()
	for _, f := range textScanFormats {
		want := refPromptTexts(f[0], f[1], []byte(body))
		if got := promptTexts(f[0], f[1], []byte(body)); !sameParts(got, want) {
			t.Errorf("%s %s: promptTexts(%q) = %q, want %q", f[0], f[1], body, got, want)
		}
		for _, keys := range [][]string{{"model"}, {"max_tokens", "user"}, {"messages"}, {"system"}} {
			tx := newTextScan(f[0], f[1])
			if tx == nil {
				continue
			}
			if _, err := jsonFields([]byte(body), keys, tx); err != nil || tx.failed {
				continue
			}
			if got := tx.texts(); !sameParts(got, want) {
				t.Errorf("%s %s keys %v: one pass over %q = %q, want %q", f[0], f[1], keys, body, got, want)
			}
		}
	}
}

func sameParts(a, b []textPart) bool {
	return len(a) == len(b) && (len(a) == 0 || reflect.DeepEqual(a, b))
}

// randomChat builds a chat body of random messages: strings with escapes,
// parts, roles before and after the content, odd values.
func randomChat(rng *rand.Rand) string {
	pick := func(xs ...string) string { return xs[rng.Intn(len(xs))] }
	str := func() string {
		return pick(`"hello"`, `"a\nb"`, `"q\"uote"`, `"\u00e9t\u00e9"`, `""`, `"`+strings.Repeat("word ", rng.Intn(20))+`"`, `"x\\y"`)
	}
	val := func() string { return pick(`1`, `null`, `true`, `{"a":[1,2]}`, `[]`, str()) }
	var b strings.Builder
	b.WriteString("{")
	if rng.Intn(3) == 0 {
		b.WriteString(`"system":` + pick(str(), `[{"type":"text","text":`+str()+`}]`, val()) + ",")
	}
	b.WriteString(`"model":"m","messages":[`)
	for i := range rng.Intn(5) {
		if i > 0 {
			b.WriteString(",")
		}
		var fields []string
		if rng.Intn(5) > 0 {
			fields = append(fields, `"role":`+pick(`"user"`, `"system"`, `"assistant"`, `"tool"`))
		}
		switch rng.Intn(4) {
		case 0, 1:
			fields = append(fields, `"content":`+str())
		case 2:
			var ps []string
			for range rng.Intn(4) {
				ps = append(ps, pick(`{"type":"text","text":`+str()+`}`, `{"type":"image_url","image_url":{"url":"u"}}`, `{"text":`+val()+`}`))
			}
			fields = append(fields, `"content":[`+strings.Join(ps, ",")+`]`)
		case 3:
			fields = append(fields, `"content":`+val())
		}
		if rng.Intn(3) == 0 {
			fields = append(fields, `"name":`+val())
		}
		rng.Shuffle(len(fields), func(i, j int) { fields[i], fields[j] = fields[j], fields[i] })
		b.WriteString("{" + strings.Join(fields, ",") + "}")
	}
	b.WriteString(`],"max_tokens":5}`)
	return b.String()
}

// refPromptTexts and the functions below are promptTexts as it was before
// the one-pass readings: gjson alone. They are the reference the readings
// are compared with.
// promptTexts extracts every prompt text of a request body: system
// instructions and messages, in order, for the formats tollgate speaks.
// Images, audio and tool schemas are left out.
func refPromptTexts(provider, op string, body []byte) []textPart {
	var out []textPart
	root := gjson.ParseBytes(body)
	switch provider {
	case "openai":
		switch op {
		case "chat.completions":
			out = refMessages(out, root, "messages", "content")
		case "completions":
			out = refStringOrList(out, root, "prompt", "user")
		case "embeddings":
			out = refStringOrList(out, root, "input", "user")
		case "responses":
			if s := root.Get("instructions"); s.Type == gjson.String {
				out = append(out, textPart{"instructions", "system", s.Str})
			}
			if in := root.Get("input"); in.Type == gjson.String {
				out = append(out, textPart{"input", "user", in.Str})
			} else {
				out = refMessages(out, root, "input", "content")
			}
		}
	case "anthropic":
		if s := root.Get("system"); s.Type == gjson.String {
			out = append(out, textPart{"system", "system", s.Str})
		} else if s.IsArray() {
			out = refParts(out, s, "system", "system", "text")
		}
		out = refMessages(out, root, "messages", "content")
	case "gemini":
		if s := root.Get("systemInstruction.parts"); s.IsArray() {
			out = refParts(out, s, "systemInstruction.parts", "system", "text")
		}
		i := 0
		root.Get("contents").ForEach(func(_, c gjson.Result) bool {
			role := c.Get("role").Str
			if role == "" {
				role = "user"
			}
			out = refParts(out, c.Get("parts"), textPath("contents", i, "parts"), role, "text")
			i++
			return true
		})
	}
	return out
}

// messages reads a list of {role, content} where content is a string or a
// list of parts with text.
func refMessages(out []textPart, root gjson.Result, list, field string) []textPart {
	i := 0
	root.Get(list).ForEach(func(_, m gjson.Result) bool {
		role := m.Get("role").Str
		c := m.Get(field)
		switch {
		case c.Type == gjson.String:
			out = append(out, textPart{textPath(list, i, field), role, c.Str})
		case c.IsArray():
			out = refParts(out, c, textPath(list, i, field), role, "text")
		}
		i++
		return true
	})
	return out
}

// parts reads the text of each part of a list: {type: text, text: ...}.
func refParts(out []textPart, list gjson.Result, base, role, field string) []textPart {
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

func refStringOrList(out []textPart, root gjson.Result, field, role string) []textPart {
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
