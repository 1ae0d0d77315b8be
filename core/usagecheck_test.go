package core

import (
	"bytes"
	"log/slog"
	"math"
	"strings"
	"testing"
	"time"
)

func TestReadCount(t *testing.T) {
	tests := []struct {
		name, raw    string
		want         int64
		wantReported bool
		wantErr      string // in the error; "" for none
	}{
		{"absent", "", 0, false, ""},
		{"null", "null", 0, false, ""},
		{"a number", "12", 12, true, ""},
		{"zero", "0", 0, true, ""},
		{"the largest", "9223372036854775807", math.MaxInt64, true, ""},
		{"a whole float", "12.0", 12, true, ""},
		{"an exponent", "1.2e1", 12, true, ""},
		{"a quoted number, as OpenAI-compatible servers may send", `"12"`, 12, true, ""},
		{"negative", "-5000000", 0, true, "n is -5000000, a negative count"},
		{"a negative float", "-1.5", 0, true, "a negative count"},
		{"beyond int64", "99999999999999999999", 0, true, "n is 99999999999999999999, more than an int64 holds"},
		{"beyond int64 as a float", "9.3e18", 0, true, "more than an int64 holds"},
		{"beyond float64", "1e400", 0, true, "more than an int64 holds"},
		{"a fraction", "1.9", 0, true, "n is 1.9, not a whole number"},
		{"a word", `"twelve"`, 0, true, `n is "twelve", not a number`},
		{"an empty string", `""`, 0, true, "not a number"},
		{"a plus sign", `"+7"`, 0, true, "not a number"},
		{"a leading zero", `"07"`, 0, true, "not a number"},
		{"hexadecimal", `"0x1p4"`, 0, true, "not a number"},
		{"infinity", `"Inf"`, 0, true, "not a number"},
		{"a boolean", "true", 0, true, "not a number"},
		{"an object", "{}", 0, true, "not a number"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, reported, err := ReadCount("n", tt.raw)
			if n != tt.want || reported != tt.wantReported || (err == nil) != (tt.wantErr == "") ||
				err != nil && !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ReadCount(%q) = %d, %v, %v; want %d, %v, error with %q", tt.raw, n, reported, err, tt.want, tt.wantReported, tt.wantErr)
			}
		})
	}
}

func TestCheckUsage(t *testing.T) {
	const max = math.MaxInt64
	tests := []struct {
		name    string
		u       Usage
		wantErr string
	}{
		{"counts that can be true", Usage{InputTokens: 10, OutputTokens: 5, CachedInputTokens: 4, CacheWriteTokens: 6, ReasoningTokens: 5}, ""},
		{"the largest total", Usage{InputTokens: max - 1, OutputTokens: 1}, ""},
		{"negative input", Usage{InputTokens: -5, OutputTokens: 1}, "a negative count"},
		{"negative output", Usage{OutputTokens: -3}, "a negative count"},
		{"negative reasoning", Usage{OutputTokens: 3, ReasoningTokens: -1}, "a negative count"},
		{"cache reads beyond the input", Usage{InputTokens: 10, CachedInputTokens: 5000000}, "cached input 5000000 and cache write 0 are more than the input 10"},
		{"cache reads and writes beyond the input", Usage{InputTokens: 10, CachedInputTokens: 6, CacheWriteTokens: 5}, "are more than the input 10"},
		{"parts that overflow when added", Usage{InputTokens: max, CachedInputTokens: max, CacheWriteTokens: max}, "are more than the input"},
		{"reasoning beyond the output", Usage{OutputTokens: 2, ReasoningTokens: 3}, "reasoning 3 is more than the output 2"},
		{"a total beyond int64", Usage{InputTokens: max, OutputTokens: max}, "is more than an int64 holds"},
		// Anthropic adds three counts: max + 10 wraps to a negative input
		{"a wrapped sum", Usage{InputTokens: math.MinInt64 + 9, CachedInputTokens: 10}, "a negative count"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckUsage(tt.u)
			if (err == nil) != (tt.wantErr == "") || err != nil && !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("CheckUsage(%+v) = %v, want an error with %q", tt.u, err, tt.wantErr)
			}
		})
	}
}

func TestReportedUsage(t *testing.T) {
	estimate := Usage{OutputTokens: 4, Estimated: true}
	u, ok := ReportedUsage(Usage{InputTokens: 9, OutputTokens: 7, CachedInputTokens: 2}, nil, `{"x":1}`, estimate)
	if want := (Usage{InputTokens: 9, OutputTokens: 7, TotalTokens: 16, CachedInputTokens: 2}); !ok || u != want {
		t.Errorf("a true report: %+v, %v; want %+v", u, ok, want)
	}
	u, ok = ReportedUsage(Usage{InputTokens: -5}, nil, `{"prompt_tokens":-5}`, estimate)
	if ok || u.OutputTokens != 4 || u.TotalTokens != 4 || u.InputTokens != 0 || !u.Estimated ||
		!strings.Contains(u.Problem, "cannot be true: a negative count") || !strings.HasSuffix(u.Problem, `{"prompt_tokens":-5}`) {
		t.Errorf("a report that cannot be true: %+v, %v; want the estimate, flagged, quoting the report", u, ok)
	}
	_, _, readErr := ReadCount("prompt_tokens", `"x"`)
	if u, ok = ReportedUsage(Usage{}, readErr, strings.Repeat("x", 10000), Usage{}); ok || !strings.Contains(u.Problem, `prompt_tokens is "x"`) ||
		len(u.Problem) > 400 {
		t.Errorf("an unreadable count: %+v, %v; want its error, the report quoted short", u, ok)
	}
	if u, ok = ReportedUsage(Usage{InputTokens: -1}, nil, "", Usage{InputTokens: -7, OutputTokens: 2}); ok || u.InputTokens != 0 || u.OutputTokens != 0 {
		t.Errorf("an estimate that cannot be true is dropped: %+v", u)
	}
}

func TestAnswerWithoutUsage(t *testing.T) {
	tests := []struct{ name, body, want string }{
		{"empty", "", "the answer is empty"},
		{"gzip", "\x1f\x8b\x08\x00rest", "the answer is gzip-compressed (8 bytes)"},
		{"html", "<!DOCTYPE html><html><body>Bad gateway, and a long page after it</body></html>", `the answer is not JSON (78 bytes, starting "<!DOCTYPE html><html><body>Bad g")`},
		{"broken JSON", `{"id":"chatcmpl-1","choi`, `the answer is not JSON (24 bytes, starting "{\"id\":\"chatcmpl-1\",\"choi")`},
		{"JSON without usage", `{"id":"x"}`, "the answer (10 bytes) has no usage to read"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u := AnswerWithoutUsage([]byte(tt.body))
			if u.Problem != tt.want || !u.Estimated || u.TotalTokens != 0 {
				t.Errorf("AnswerWithoutUsage = %+v, want estimated with problem %q", u, tt.want)
			}
		})
	}
}

// TestUsageWarningsAreRateLimitedPerUpstream: an upstream whose every
// answer is unreadable logs its first problem, then at most one a period
// with how many were not logged; another upstream has its own period.
func TestUsageWarningsAreRateLimitedPerUpstream(t *testing.T) {
	var logs bytes.Buffer
	e := New(WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	e.usageWarnings.every = time.Hour // no test runs that long: the second warning is always within it
	outcome := func(upstream string) *Outcome {
		return &Outcome{Request: &Request{ID: "r", Upstream: &Upstream{Name: upstream}, Received: time.Now()},
			Usage: AnswerWithoutUsage(nil), Status: StatusOK, Response: &Response{Status: 200}}
	}
	for range 3 {
		e.finish(e.acquire(), outcome("flaky"))
	}
	e.finish(e.acquire(), outcome("other"))
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "upstream=flaky") || !strings.Contains(lines[1], "upstream=other") ||
		!strings.Contains(lines[0], `problem="the answer is empty"`) || !strings.Contains(lines[0], "level=WARN") {
		t.Fatalf("want one warning per upstream, got:\n%s", logs.String())
	}
	w, _ := e.usageWarnings.m.Load("flaky")
	if n := w.(*usageWarning).suppressed.Load(); n != 2 {
		t.Errorf("%d problems not logged, want 2 (counted for the next warning)", n)
	}
}

// TestFinishChecksUsageAStageSet: usage that cannot be true never reaches
// an event, whoever set it, and a total never wraps.
func TestFinishChecksUsageAStageSet(t *testing.T) {
	var logs bytes.Buffer
	e := New(WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	o := &Outcome{Request: &Request{ID: "r", Received: time.Now()}, Status: StatusOK, Response: &Response{Status: 200},
		Usage: Usage{InputTokens: math.MaxInt64, OutputTokens: math.MaxInt64}}
	e.finish(e.acquire(), o)
	if o.Usage.TotalTokens != 0 || o.Usage.InputTokens != 0 || !o.Usage.Estimated ||
		!strings.Contains(logs.String(), "is more than an int64 holds") {
		t.Errorf("usage %+v, log %s; want it estimated, 0, and logged", o.Usage, logs.String())
	}
}
