package openai_test

import (
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/providers/openai"
)

// TestUsageThatCannotBeTrue: counts that are negative, overflow, are not
// numbers, or parts larger than their whole are not recorded as if true:
// the call records the gateway's estimate, flagged, and says why.
func TestUsageThatCannotBeTrue(t *testing.T) {
	chat := &core.Request{Operation: openai.OpChatCompletions}
	tests := []struct {
		name, usage, wantProblem string
	}{
		{"negative", `{"prompt_tokens":-5000000,"completion_tokens":-3000000}`, "prompt_tokens is -5000000, a negative count"},
		{"a total beyond int64", `{"prompt_tokens":9223372036854775807,"completion_tokens":9223372036854775807}`, "is more than an int64 holds"},
		{"cached beyond the prompt", `{"prompt_tokens":10,"completion_tokens":1,"prompt_tokens_details":{"cached_tokens":5000000}}`, "cached input 5000000 and cache write 0 are more than the input 10"},
		{"reasoning beyond the completion", `{"prompt_tokens":10,"completion_tokens":1,"completion_tokens_details":{"reasoning_tokens":2}}`, "reasoning 2 is more than the output 1"},
		{"a count beyond int64", `{"prompt_tokens":99999999999999999999,"completion_tokens":1}`, "prompt_tokens is 99999999999999999999, more than an int64 holds"},
		{"a count that is not a number", `{"prompt_tokens":"ten","completion_tokens":1}`, `prompt_tokens is "ten", not a number`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, ok := openai.New().Usage(chat, []byte(`{"id":"c","choices":[],"usage":`+tt.usage+`}`))
			if ok || !u.Estimated || u.InputTokens != 0 || u.OutputTokens != 0 || !strings.Contains(u.Problem, tt.wantProblem) ||
				!strings.Contains(u.Problem, tt.usage) {
				t.Errorf("usage %+v, %v; want 0 estimated tokens, the problem %q quoting the report", u, ok, tt.wantProblem)
			}
			rs, ok := openai.New().Usage(&core.Request{Operation: openai.OpResponses}, []byte(`{"usage":`+responsesShape(tt.usage)+`}`))
			if ok || !rs.Estimated || rs.TotalTokens != 0 || rs.Problem == "" {
				t.Errorf("responses usage %+v, %v; want it estimated", rs, ok)
			}
		})
	}
}

// responsesShape renames chat usage keys to the Responses API's.
func responsesShape(chat string) string {
	return strings.NewReplacer("prompt_tokens_details", "input_tokens_details", "completion_tokens_details", "output_tokens_details",
		"prompt_tokens", "input_tokens", "completion_tokens", "output_tokens").Replace(chat)
}

// TestUsageQuotedNumber: a number in quotes is read as the number, as by
// every provider.
func TestUsageQuotedNumber(t *testing.T) {
	u, ok := openai.New().Usage(&core.Request{Operation: openai.OpChatCompletions}, []byte(`{"usage":{"prompt_tokens":"10","completion_tokens":2}}`))
	if want := (core.Usage{InputTokens: 10, OutputTokens: 2, TotalTokens: 12}); !ok || u != want {
		t.Errorf("usage %+v, %v; want %+v", u, ok, want)
	}
}

// TestAnswerWithoutUsage: a 200 answer of a metered call whose usage
// cannot be read is estimated and flagged, not free; a passed-through
// operation has no usage to read, and a background response none yet.
func TestAnswerWithoutUsage(t *testing.T) {
	tests := []struct {
		name, op, body string
		wantProblem    string // "" for no usage and no problem
	}{
		{"html", openai.OpChatCompletions, "<html><body>502 Bad Gateway</body></html>", "the answer is not JSON"},
		{"empty", openai.OpChatCompletions, "", "the answer is empty"},
		{"gzip", openai.OpEmbeddings, "\x1f\x8b\x08\x00\x00", "gzip-compressed"},
		{"malformed", openai.OpChatCompletions, `{"id":"c","choices":[{"message":`, "the answer is not JSON"},
		{"no usage object", openai.OpCompletions, `{"id":"c","choices":[]}`, "has no usage to read"},
		{"responses without usage", openai.OpResponses, `{"id":"r","status":"completed"}`, "has no usage to read"},
		{"a background response", openai.OpResponses, `{"id":"r","status":"queued","usage":null}`, ""},
		{"a passed-through operation", "files", `<html></html>`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, ok := openai.New().Usage(&core.Request{Operation: tt.op}, []byte(tt.body))
			if ok || u.Estimated != (tt.wantProblem != "") || !strings.Contains(u.Problem, tt.wantProblem) || u.TotalTokens != 0 {
				t.Errorf("usage %+v, %v; want no usage, estimated with a problem saying %q", u, ok, tt.wantProblem)
			}
		})
	}
}

// TestStreamUsageThatCannotBeTrue: a usage chunk that cannot be true
// leaves the count of content chunks, estimated.
func TestStreamUsageThatCannotBeTrue(t *testing.T) {
	raw := "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}],\"usage\":null}\n\n" +
		"data: {\"choices\":[{\"delta\":{\"content\":\"b\"}}],\"usage\":null}\n\n" +
		"data: {\"choices\":[],\"usage\":{\"prompt_tokens\":-5,\"completion_tokens\":2}}\n\ndata: [DONE]\n\n"
	u, done := observe(t, openai.OpChatCompletions, []byte(raw), 100)
	if !done || !u.Estimated || u.OutputTokens != 2 || u.InputTokens != 0 || !strings.Contains(u.Problem, "negative") {
		t.Errorf("usage %+v finished %v; want the 2 content chunks, estimated, with the problem", u, done)
	}
	raw = strings.Replace(raw, "-5", "5", 1)
	if u, _ := observe(t, openai.OpChatCompletions, []byte(raw), 100); u != (core.Usage{InputTokens: 5, OutputTokens: 2, TotalTokens: 7}) {
		t.Errorf("a true report: %+v", u)
	}
}

// TestStreamErrorIsAFailure: an error in place of a chunk, in either
// API's shape, is the stream's failure; a chat stream without [DONE] or a
// Responses stream without its terminal event is not finished.
func TestStreamErrorIsAFailure(t *testing.T) {
	tests := []struct {
		name, op, raw, wantFailure string
		wantFinished               bool
	}{
		{"chat content without [DONE]", openai.OpChatCompletions, "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n", "", false},
		{"chat content with [DONE]", openai.OpChatCompletions, "data: {\"choices\":[{\"delta\":{\"content\":\"the \\\"error\\\"\"}}],\"finish_reason\":\"error\"}\n\ndata: [DONE]\n\n", "", true},
		{"chat error chunk", openai.OpChatCompletions, "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\ndata: {\"error\":{\"message\":\"overloaded\",\"type\":\"server_error\",\"param\":null,\"code\":null}}\n\n", "server_error: overloaded", false},
		{"chat error event", openai.OpChatCompletions, "event: error\ndata: {\"message\":\"overloaded\",\"code\":503}\n\n", "503: overloaded", false},
		{"responses error event", openai.OpResponses, "event: error\ndata: {\"type\":\"error\",\"code\":\"server_error\",\"message\":\"boom\",\"param\":null,\"sequence_number\":3}\n\n", "server_error: boom", false},
		{"responses error without an event name", openai.OpResponses, "data: {\"type\":\"error\",\"error\":{\"type\":\"server_error\",\"message\":\"boom\"}}\n\n", "server_error: boom", false},
		{"responses deltas without a terminal event", openai.OpResponses, "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\"a\"}\n\n", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obs := openai.New().ObserveStream(&core.Request{Operation: tt.op})
			finished := observeWith(t, obs, []byte(tt.raw))
			if f := obs.(core.StreamFailer).Failure(); f != tt.wantFailure || finished != tt.wantFinished {
				t.Errorf("failure %q finished %v; want %q, %v", f, finished, tt.wantFailure, tt.wantFinished)
			}
		})
	}
}
