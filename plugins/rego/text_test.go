package rego

import (
	"reflect"
	"testing"
)

func TestPromptTexts(t *testing.T) {
	tests := []struct {
		name, provider, op, body string
		want                     []textPart
	}{
		{"openai chat, string and parts", "openai", "chat.completions",
			`{"messages":[{"role":"system","content":"be brief"},{"role":"user","content":[{"type":"text","text":"hi"},{"type":"image_url","image_url":{"url":"x"}},{"type":"text","text":"there"}]}]}`,
			[]textPart{{"messages.0.content", "system", "be brief"}, {"messages.1.content.0.text", "user", "hi"}, {"messages.1.content.2.text", "user", "there"}}},
		{"openai responses, instructions and string input", "openai", "responses", `{"instructions":"sys","input":"q"}`,
			[]textPart{{"instructions", "system", "sys"}, {"input", "user", "q"}}},
		{"openai responses, items", "openai", "responses", `{"input":[{"role":"user","content":[{"type":"input_text","text":"q"}]}]}`,
			[]textPart{{"input.0.content.0.text", "user", "q"}}},
		{"openai embeddings list", "openai", "embeddings", `{"input":["a","b"]}`,
			[]textPart{{"input.0", "user", "a"}, {"input.1", "user", "b"}}},
		{"anthropic system list and messages", "anthropic", "messages",
			`{"system":[{"type":"text","text":"sys"}],"messages":[{"role":"user","content":"q"},{"role":"assistant","content":[{"type":"text","text":"a"}]}]}`,
			[]textPart{{"system.0.text", "system", "sys"}, {"messages.0.content", "user", "q"}, {"messages.1.content.0.text", "assistant", "a"}}},
		{"gemini", "gemini", "generateContent",
			`{"systemInstruction":{"parts":[{"text":"sys"}]},"contents":[{"parts":[{"text":"q"}]},{"role":"model","parts":[{"text":"a"}]}]}`,
			[]textPart{{"systemInstruction.parts.0.text", "system", "sys"}, {"contents.0.parts.0.text", "user", "q"}, {"contents.1.parts.0.text", "model", "a"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := promptTexts(tt.provider, tt.op, []byte(tt.body)); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestAnswerAndDeltaText(t *testing.T) {
	answers := []struct{ provider, op, body, want string }{
		{"openai", "chat.completions", `{"choices":[{"message":{"content":"hello"}}]}`, "hello"},
		{"openai", "responses", `{"output":[{"type":"message","content":[{"type":"output_text","text":"hi"}]}]}`, "hi"},
		{"anthropic", "messages", `{"content":[{"type":"text","text":"a"},{"type":"tool_use"},{"type":"text","text":"b"}]}`, "ab"},
		{"gemini", "generateContent", `{"candidates":[{"content":{"parts":[{"text":"x"},{"text":"y"}]}}]}`, "xy"},
	}
	for _, a := range answers {
		if got := answerText(a.provider, a.op, []byte(a.body)); got != a.want {
			t.Errorf("answerText(%s %s) = %q, want %q", a.provider, a.op, got, a.want)
		}
	}
	deltas := []struct{ provider, op, data, want string }{
		{"openai", "chat.completions", `{"choices":[{"delta":{"content":"he"}}]}`, "he"},
		{"openai", "chat.completions", `[DONE]`, ""},
		{"openai", "responses", `{"type":"response.output_text.delta","delta":"d"}`, "d"},
		{"anthropic", "messages", `{"type":"content_block_delta","delta":{"type":"text_delta","text":"t"}}`, "t"},
		{"anthropic", "messages", `{"type":"content_block_delta","delta":{"type":"input_json_delta","partial_json":"{"}}`, ""},
		{"gemini", "streamGenerateContent", `{"candidates":[{"content":{"parts":[{"text":"g"}]}}]}`, "g"},
	}
	for _, d := range deltas {
		if got := string(deltaText(nil, d.provider, d.op, "", []byte(d.data))); got != d.want {
			t.Errorf("deltaText(%s %s %s) = %q, want %q", d.provider, d.op, d.data, got, d.want)
		}
	}
}
