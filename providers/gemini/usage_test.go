package gemini_test

import (
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/providers/gemini"
)

// TestUsageThatCannotBeTrue: the rule every provider applies, on Gemini's
// counts and their sums.
func TestUsageThatCannotBeTrue(t *testing.T) {
	tests := []struct{ name, meta, wantProblem string }{
		{"negative", `{"promptTokenCount":-8,"candidatesTokenCount":2}`, "promptTokenCount is -8, a negative count"},
		{"a sum beyond int64", `{"promptTokenCount":9223372036854775807,"toolUsePromptTokenCount":1}`, "a negative count"},
		{"cached beyond the prompt", `{"promptTokenCount":4,"cachedContentTokenCount":5}`, "are more than the input 4"},
		{"a count that is not a number", `{"promptTokenCount":"four"}`, "not a number"},
	}
	gen := &core.Request{Operation: gemini.OpGenerateContent}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, ok := gemini.New().Usage(gen, []byte(`{"candidates":[],"usageMetadata":`+tt.meta+`}`))
			if ok || !u.Estimated || u.TotalTokens != 0 || !strings.Contains(u.Problem, tt.wantProblem) {
				t.Errorf("usage %+v, %v; want 0 estimated tokens and the problem %q", u, ok, tt.wantProblem)
			}
		})
	}
	// in a stream, the last counts that could be true stand in for it
	raw := string(stream(3))
	raw = raw[:strings.LastIndex(raw, `"usageMetadata":`)] + `"usageMetadata":{"promptTokenCount":-8}}` + "\r\n\r\n"
	u, done := observe(t, []byte(raw), 100)
	if !done || !u.Estimated || u.OutputTokens != 2 || u.InputTokens != 44 || !strings.Contains(u.Problem, "negative") {
		t.Errorf("stream usage %+v finished %v; want the second chunk's counts, estimated", u, done)
	}
}

// TestAnswerWithoutUsage: a generate call's answer with no usage to read,
// or a JSON array cut off, is estimated and flagged; countTokens has none.
func TestAnswerWithoutUsage(t *testing.T) {
	whole := `{"candidates":[{"content":{"parts":[{"text":"a"}]}}],"usageMetadata":{"promptTokenCount":5,"candidatesTokenCount":1}}`
	tests := []struct {
		name, op, body string
		want           core.Usage // without Problem
		wantProblem    string
	}{
		{"html", gemini.OpGenerateContent, "<html>unavailable</html>", core.Usage{Estimated: true}, "not JSON"},
		{"empty", gemini.OpGenerateContent, "", core.Usage{Estimated: true}, "the answer is empty"},
		{"an array cut off", gemini.OpStreamGenerateContent, "[" + whole + `,{"candidates":[{"content":{"parts":[{"te`,
			core.Usage{InputTokens: 5, OutputTokens: 1, TotalTokens: 6, Estimated: true}, "the answer's JSON array is cut off after 1 whole chunks"},
		{"an array cut off before any chunk", gemini.OpStreamGenerateContent, `[{"candidates":[`, core.Usage{Estimated: true}, "cut off after 0 whole chunks"},
		{"an empty array", gemini.OpStreamGenerateContent, `[]`, core.Usage{Estimated: true}, "has no usage to read"},
		{"countTokens", gemini.OpCountTokens, `{"totalTokens":5}`, core.Usage{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, ok := gemini.New().Usage(&core.Request{Operation: tt.op}, []byte(tt.body))
			problem := u.Problem
			u.Problem = ""
			if ok || u != tt.want || !strings.Contains(problem, tt.wantProblem) || (problem == "") != (tt.wantProblem == "") {
				t.Errorf("usage %+v (%q), %v; want %+v and a problem with %q", u, problem, ok, tt.want, tt.wantProblem)
			}
		})
	}
}

// TestStreamFinishAndFailure: the stream is finished by a candidate's
// finishReason, not by the key anywhere (a function call's arguments);
// an error object in place of a chunk is its failure.
func TestStreamFinishAndFailure(t *testing.T) {
	tests := []struct {
		name, chunks, wantFailure string
		wantFinished              bool
	}{
		{"no finishReason", `{"candidates":[{"content":{"parts":[{"text":"a"}]}}]}`, "", false},
		{"finishReason in a function call's arguments", `{"candidates":[{"content":{"parts":[{"functionCall":{"name":"set","args":{"finishReason":"x"}}}]}}]}`, "", false},
		{"finishReason in the text", `{"candidates":[{"content":{"parts":[{"text":"\"finishReason\":\"STOP\""}]}}]}`, "", false},
		{"finishReason of the second candidate", `{"candidates":[{"index":0},{"index":1,"finishReason":"STOP"}]}`, "", true},
		{"finishReason null", `{"candidates":[{"finishReason":null}]}`, "", false},
		{"an error chunk", `{"error":{"code":503,"message":"The model is overloaded.","status":"UNAVAILABLE"}}`, "UNAVAILABLE: The model is overloaded.", false},
		{"an error without a status", `{"error":{"code":500,"message":"internal"}}`, "500: internal", false},
		{"an error after the last chunk", `{"candidates":[{"finishReason":"STOP"}]}` + "\r\n\r\ndata: " + `{"error":{"code":503,"message":"late","status":"UNAVAILABLE"}}`, "UNAVAILABLE: late", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obs := gemini.New().ObserveStream(&core.Request{Operation: gemini.OpStreamGenerateContent})
			feed(t, obs, []byte("data: "+tt.chunks+"\r\n\r\n"))
			if f := obs.(core.StreamFailer).Failure(); f != tt.wantFailure || obs.Finished() != tt.wantFinished {
				t.Errorf("failure %q finished %v; want %q, %v", f, obs.Finished(), tt.wantFailure, tt.wantFinished)
			}
		})
	}
}
