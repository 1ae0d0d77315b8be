package openai

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tollgate-dev/tollgate/core"
)

// tokens is the estimate of text bytes of text in messages messages.
func tokens(bytes, messages int64) int64 {
	return (bytes+3)/4 + 4*messages + 3
}

// image is a base64 image as clients inline it: 40 KB that must not count.
var image = "data:image/png;base64," + strings.Repeat("iVBORw0KGgo", 4000)

func TestPromptTokens(t *testing.T) {
	const schema = `{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}`
	tests := []struct {
		name, op, body string
		want           int64
	}{
		{"one message", OpChatCompletions, `{"model":"m","messages":[{"role":"user","content":"hello world!"}]}`, tokens(12, 1)},
		{"system and user", OpChatCompletions,
			`{"messages":[{"role":"system","content":"Be terse."},{"role":"user","content":"Say hi"}],"model":"m","temperature":0.2}`, tokens(9+6, 2)},
		{"developer message and a name", OpChatCompletions,
			`{"messages":[{"role":"developer","content":"Rules"},{"role":"user","name":"alice","content":"hi"}]}`, tokens(5+5+2, 2)},
		{"text parts", OpChatCompletions,
			`{"messages":[{"role":"user","content":[{"type":"text","text":"what is"},{"type":"text","text":" this?"}]}]}`, tokens(7+6, 1)},
		{"an image counts nothing", OpChatCompletions,
			`{"messages":[{"role":"user","content":[{"type":"text","text":"describe"},{"type":"image_url","image_url":{"url":"` + image + `","detail":"high"}}]}]}`,
			tokens(8, 1)},
		{"audio and a file count nothing", OpChatCompletions,
			`{"messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{"data":"` + image + `","format":"wav"}},` +
				`{"type":"file","file":{"file_data":"` + image + `","filename":"a.pdf"}}]}]}`, tokens(0, 1)},
		{"tools", OpChatCompletions,
			`{"messages":[{"role":"user","content":"weather?"}],"tools":[{"type":"function","function":{"name":"get_weather","description":"Weather in a city","parameters":` + schema + `}}]}`,
			tokens(8+11+17+int64(len(schema)), 1)},
		{"legacy functions", OpChatCompletions,
			`{"messages":[{"role":"user","content":"weather?"}],"functions":[{"name":"get_weather","description":"Weather in a city","parameters":` + schema + `}]}`,
			tokens(8+11+17+int64(len(schema)), 1)},
		{"a tool call and its result", OpChatCompletions,
			`{"messages":[{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Oslo\"}"}}]},` +
				`{"role":"tool","tool_call_id":"call_1","content":"rain"}]}`, tokens(11+15+4, 2)},
		{"an assistant's refusal", OpChatCompletions,
			`{"messages":[{"role":"assistant","content":[{"type":"refusal","refusal":"I can't"}]}]}`, tokens(7, 1)},
		{"escapes count what they stand for", OpChatCompletions,
			`{"messages":[{"role":"user","content":"caf\u00e9 \ud83d\ude00\n\"q\" \u4f60"}]}`, tokens(int64(len("café 😀\n\"q\" 你")), 1)},
		{"responses: input as a string", OpResponses, `{"model":"m","input":"Tell me a joke"}`, tokens(14, 1)},
		{"responses: instructions", OpResponses, `{"model":"m","instructions":"Be terse.","input":"hi"}`, tokens(9+2, 2)},
		{"responses: input items", OpResponses,
			`{"input":[{"role":"user","content":[{"type":"input_text","text":"what's in"},{"type":"input_image","image_url":"` + image + `"},` +
				`{"type":"input_file","filename":"a.pdf","file_data":"` + image + `"}]},` +
				`{"type":"message","role":"assistant","content":[{"type":"output_text","text":"a cat","annotations":[]}]},` +
				`{"type":"function_call","call_id":"c1","name":"lookup","arguments":"{}"},` +
				`{"type":"function_call_output","call_id":"c1","output":"found"},` +
				`{"type":"reasoning","summary":[{"type":"summary_text","text":"thinking"}],"encrypted_content":"` + image + `"}]}`,
			tokens(9+5+6+2+5+8, 5)},
		{"responses: tools", OpResponses,
			`{"input":"weather?","tools":[{"type":"function","name":"get_weather","description":"Weather in a city","parameters":` + schema + `},{"type":"web_search"}]}`,
			tokens(8+11+17+int64(len(schema)), 1)},
		{"completions: a prompt", OpCompletions, `{"model":"m","prompt":"Once upon"}`, tokens(9, 1)},
		{"completions: prompts", OpCompletions, `{"model":"m","prompt":["Once upon","a time"]}`, tokens(9+6, 2)},
		{"no prompt", OpChatCompletions, `{"model":"m"}`, 0},
		{"embeddings are not estimated", OpEmbeddings, `{"model":"m","input":"hello"}`, 0},
		{"not JSON", OpChatCompletions, `<html>`, 0},
		{"cut off", OpChatCompletions, `{"model":"m","messages":[{"role":"user","content":"hel`, 0},
		{"empty", OpChatCompletions, ``, 0},
		{"not an object", OpChatCompletions, `["hello"]`, 0},
		{"fields of the wrong type", OpChatCompletions, `{"messages":{"content":"hi"},"tools":"x","input":7,"instructions":null}`, tokens(1, 0)},
		{"nested past the depth looked at", OpChatCompletions,
			`{"messages":[{"content":` + strings.Repeat(`[`, 50) + `"deep"` + strings.Repeat(`]`, 50) + `}]}`, tokens(0, 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := &core.Request{Operation: tt.op, Body: []byte(tt.body)}
			if got := New().PromptTokens(req); got != tt.want {
				t.Errorf("got %d tokens, want %d", got, tt.want)
			}
		})
	}
}

// TestTextBytes: a JSON string's text is measured as encoding/json
// decodes it.
func TestTextBytes(t *testing.T) {
	for _, raw := range []string{`""`, `"abc"`, `"\n\t\\\/\""`, `"\u0041\u00e9\u20ac\ud83d\ude00"`, `"\uD83D\uDE00 mixed\u00E9"`, `"日本語"`} {
		var s string
		if err := json.Unmarshal([]byte(raw), &s); err != nil {
			t.Fatal(err)
		}
		if got := textBytes(raw); got != int64(len(s)) {
			t.Errorf("textBytes(%s) = %d, want %d", raw, got, len(s))
		}
	}
}

// FuzzPromptTokens: the estimate never panics and is never negative, a
// body that is not JSON gives 0, an estimate is bounded by the body's
// size, and a string's text is measured as encoding/json decodes it.
func FuzzPromptTokens(f *testing.F) {
	f.Add([]byte(`{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"caf\u00e9"},{"type":"image_url","image_url":{"url":"data:,"}}]}]}`))
	f.Add([]byte(`{"input":[{"type":"function_call_output","output":[{"type":"input_text","text":"x"}]}],"instructions":"\ud83d\ude00","tools":[{"name":"f","parameters":{}}]}`))
	f.Add([]byte(`{"prompt":["a","\"b\""]}`))
	f.Add([]byte(`{"messages":[[[[[[[[["deep"]]]]]]]]]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		n := promptTokens(body)
		switch {
		case n < 0:
			t.Fatalf("%d tokens", n)
		case !json.Valid(body) && n != 0:
			t.Fatalf("%d tokens of a body that is not JSON", n)
		case n > 2*int64(len(body))+replyOverhead:
			t.Fatalf("%d tokens of %d bytes", n, len(body))
		}
		var s string
		if json.Unmarshal(body, &s) == nil && utf8.Valid(body) {
			if got := textBytes(strings.TrimSpace(string(body))); got != int64(len(s)) {
				t.Fatalf("textBytes(%s) = %d, want %d", body, got, len(s))
			}
		}
	})
}

// BenchmarkPromptTokens is what the estimate costs a call that needs it
// (none other makes it): a chat of ten messages and a tool, about 4 KB,
// and a long-context prompt of about 400 KB with an image.
func BenchmarkPromptTokens(b *testing.B) {
	turn := `{"role":"user","content":"` + strings.Repeat("Summarize the quarterly report for me. ", 8) + `"},` +
		`{"role":"assistant","content":"` + strings.Repeat("Revenue grew and costs fell. ", 8) + `"},`
	tool := `{"type":"function","function":{"name":"lookup","description":"Find a report","parameters":{"type":"object","properties":{"q":{"type":"string"}}}}}`
	chat := `{"model":"gpt-4o","stream":true,"messages":[{"role":"system","content":"You are terse."},` + strings.Repeat(turn, 5) +
		`{"role":"user","content":"and now?"}],"tools":[` + tool + `]}`
	long := `{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":[{"type":"text","text":"` +
		strings.Repeat("A long document, page after page. ", 12000) + `"},{"type":"image_url","image_url":{"url":"` + image + `"}}]}]}`
	for _, bb := range []struct{ name, body string }{{"chat 4KB", chat}, {"long 400KB", long}} {
		req := &core.Request{Operation: OpChatCompletions, Body: []byte(bb.body)}
		b.Run(bb.name, func(b *testing.B) {
			b.SetBytes(int64(len(req.Body)))
			b.ReportAllocs()
			for b.Loop() {
				New().PromptTokens(req)
			}
		})
	}
}
