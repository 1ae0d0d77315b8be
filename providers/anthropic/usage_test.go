package anthropic_test

import (
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/providers/anthropic"
)

// TestUsageThatCannotBeTrue: the rule every provider applies, on
// Anthropic's counts and their sum.
func TestUsageThatCannotBeTrue(t *testing.T) {
	tests := []struct{ name, usage, wantProblem string }{
		{"a sum beyond int64", `{"input_tokens":9223372036854775807,"cache_read_input_tokens":10,"output_tokens":1}`, "a negative count"},
		{"negative", `{"input_tokens":-8,"output_tokens":1}`, "input_tokens is -8, a negative count"},
		{"a count beyond int64", `{"input_tokens":1,"output_tokens":99999999999999999999}`, "more than an int64 holds"},
		{"a count that is not a number", `{"input_tokens":1,"output_tokens":true}`, "output_tokens is true, not a number"},
	}
	msgs := &core.Request{Operation: anthropic.OpMessages}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, ok := anthropic.New().Usage(msgs, []byte(`{"type":"message","usage":`+tt.usage+`}`))
			if ok || !u.Estimated || u.TotalTokens != 0 || !strings.Contains(u.Problem, tt.wantProblem) {
				t.Errorf("usage %+v, %v; want 0 estimated tokens and the problem %q", u, ok, tt.wantProblem)
			}
			// in a stream: the text deltas seen stand in for it
			s, done := observe(t, stream(3, tt.usage), 1000)
			if !done || !s.Estimated || s.OutputTokens != 3 || s.InputTokens != 0 || !strings.Contains(s.Problem, tt.wantProblem) {
				t.Errorf("stream usage %+v; want the 3 deltas, estimated, and the problem", s)
			}
		})
	}
}

// TestUsageQuotedNumberAndNull: a number in quotes is the number, as for
// every provider; null is not reported.
func TestUsageQuotedNumberAndNull(t *testing.T) {
	u, ok := anthropic.New().Usage(&core.Request{Operation: anthropic.OpMessages},
		[]byte(`{"usage":{"input_tokens":"12","cache_read_input_tokens":null,"output_tokens":3}}`))
	if want := (core.Usage{InputTokens: 12, OutputTokens: 3, TotalTokens: 15}); !ok || u != want {
		t.Errorf("usage %+v, %v; want %+v", u, ok, want)
	}
}

// TestAnswerWithoutUsage: an answer of a message call with no usage to
// read is estimated and flagged; count_tokens has none to read.
func TestAnswerWithoutUsage(t *testing.T) {
	f := anthropic.New()
	if u, ok := f.Usage(&core.Request{Operation: anthropic.OpMessages}, []byte("<html>overloaded</html>")); ok || !u.Estimated ||
		!strings.Contains(u.Problem, "not JSON") {
		t.Errorf("html answer: %+v, %v", u, ok)
	}
	if u, ok := f.Usage(&core.Request{Operation: anthropic.OpCountTokens}, []byte(`{"input_tokens":5}`)); ok || u != (core.Usage{}) {
		t.Errorf("count_tokens: %+v, %v; want no usage", u, ok)
	}
}

// TestStreamWithoutMessageStop: deltas without message_stop are not a
// finished stream, whatever usage they carried.
func TestStreamWithoutMessageStop(t *testing.T) {
	raw := string(stream(4, `{"output_tokens":42}`))
	raw = raw[:strings.Index(raw, "event: message_stop")]
	if u, done := observe(t, []byte(raw), 1000); done || u.OutputTokens != 42 {
		t.Errorf("usage %+v finished %v; want the reported 42, not finished", u, done)
	}
}
