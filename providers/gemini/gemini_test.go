package gemini_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/internal/benchcpu"
	"github.com/tollgate-dev/tollgate/providers/gemini"
	"github.com/tollgate-dev/tollgate/providers/sse"
)

const usageMeta = `{"promptTokenCount":40,"candidatesTokenCount":%d,"totalTokenCount":%d,"cachedContentTokenCount":16,"thoughtsTokenCount":%d,"toolUsePromptTokenCount":4}`

// stream builds a Gemini alt=sse stream of n chunks, \r\n-terminated as
// Gemini sends them, each with the usage so far; the last has finishReason.
func stream(n int) []byte {
	var b bytes.Buffer
	for i := 1; i <= n; i++ {
		thoughts, finish := 0, ""
		if i == n {
			thoughts, finish = 7, `,"finishReason":"STOP"`
		}
		meta := fmt.Sprintf(usageMeta, i, 44+i+thoughts, thoughts)
		fmt.Fprintf(&b, "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\" word\"}],\"role\":\"model\"}%s,\"index\":0}],\"usageMetadata\":%s,\"modelVersion\":\"gemini-2.5-flash\",\"responseId\":\"r1\"}\r\n\r\n", finish, meta)
	}
	return b.Bytes()
}

func observe(t testing.TB, raw []byte, limit int) (core.Usage, bool) {
	obs := gemini.New().ObserveStream(&core.Request{Operation: gemini.OpStreamGenerateContent})
	s := sse.NewReader(bytes.NewReader(raw))
	var u core.Usage
	for i := 0; i < limit; i++ {
		ev, err := s.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		obs.Observe(ev, &u)
	}
	return u, obs.Finished()
}

// want: input = prompt + tool-use prompt; output = candidates + thoughts.
var want = core.Usage{InputTokens: 44, OutputTokens: 27, TotalTokens: 71, CachedInputTokens: 16, ReasoningTokens: 7}

// feed gives obs every event of a stream.
func feed(t testing.TB, obs core.StreamObserver, raw []byte) {
	s := sse.NewReader(bytes.NewReader(raw))
	var u core.Usage
	for {
		ev, err := s.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		obs.Observe(ev, &u)
	}
}

func TestUsage(t *testing.T) {
	u, done := observe(t, stream(20), 1000)
	if u != want || !done {
		t.Errorf("stream usage %+v finished %v, want %+v", u, done, want)
	}
	whole := []byte(`{"candidates":[{"content":{"parts":[{"text":"x"}]},"finishReason":"STOP"}],"usageMetadata":` + fmt.Sprintf(usageMeta, 20, 71, 7) + `}`)
	f := gemini.New()
	if got, ok := f.Usage(&core.Request{}, whole); !ok || got != want {
		t.Errorf("whole usage %+v, want %+v", got, want)
	}
	array := []byte(`[{"usageMetadata":{"promptTokenCount":40}},` + string(whole) + `]`)
	if got, ok := f.Usage(&core.Request{}, array); !ok || got != want {
		t.Errorf("streamGenerateContent without alt=sse: usage %+v, want %+v", got, want)
	}
	u, done = observe(t, stream(20), 5)
	if done || !u.Estimated || u.OutputTokens != 5 {
		t.Errorf("cut stream usage %+v finished %v: want 5 estimated output tokens", u, done)
	}
}

func TestMatchAndParse(t *testing.T) {
	f := gemini.New()
	tests := []struct {
		method, path string
		header       http.Header
		op, model    string
		ok, stream   bool
	}{
		{"POST", "/v1beta/models/gemini-2.5-flash:generateContent", nil, "generateContent", "gemini-2.5-flash", true, false},
		{"POST", "/v1beta/models/gemini-2.5-flash:streamGenerateContent", nil, "streamGenerateContent", "gemini-2.5-flash", true, true},
		{"POST", "/v1/models/gemini-2.0-flash:countTokens", nil, "countTokens", "gemini-2.0-flash", true, false},
		{"POST", "/v1beta/tunedModels/my-model:generateContent", nil, "generateContent", "my-model", true, false},
		{"GET", "/v1beta/models", nil, "models.list", "", true, false},
		{"GET", "/v1beta/cachedContents/abc", nil, "cachedContents", "", true, false},
		{"POST", "/upload/v1beta/files", nil, "files", "", true, false},
		{"GET", "/v1/models", nil, "", "", false, false},
		{"GET", "/v1/files", http.Header{"X-Goog-Api-Key": {"k"}}, "files", "", true, false},
		// Google's OpenAI-compatible endpoint speaks OpenAI's format.
		{"POST", "/v1beta/openai/chat/completions", nil, "", "", false, false},
		{"POST", "/v1beta/openai/chat/completions", http.Header{"X-Goog-Api-Key": {"k"}}, "", "", false, false},
	}
	for _, tt := range tests {
		op, ok := f.MatchHeader(tt.method, tt.path, tt.header)
		if ok != tt.ok || ok && op != tt.op {
			t.Errorf("%s %s = %q %v, want %q %v", tt.method, tt.path, op, ok, tt.op, tt.ok)
			continue
		}
		if !ok {
			continue
		}
		req := &core.Request{Method: tt.method, Path: tt.path, Operation: op, Body: []byte(`{"contents":[{"parts":[{"text":"hi"}]}]}`)}
		f.Parse(req)
		if req.Model != tt.model || req.Stream != tt.stream || f.Validate(req) != nil {
			t.Errorf("%s: model %q stream %v err %v", tt.path, req.Model, req.Stream, f.Validate(req))
		}
	}
}

func TestValidateAndErrors(t *testing.T) {
	f := gemini.New()
	for body, want := range map[string]string{
		`{"contents":[]}`:      "contents is not specified",
		`{}`:                   "contents is not specified",
		`{"contents":"hi"}`:    "expected a list",
		`{"contents":[{"part"`: "Invalid JSON payload",
	} {
		req := &core.Request{Operation: gemini.OpGenerateContent, Path: "/v1beta/models/m:generateContent", Body: []byte(body)}
		f.Parse(req)
		err := f.Validate(req)
		if err == nil || !strings.Contains(err.Message, want) {
			t.Errorf("%s: %v, want %q", body, err, want)
			continue
		}
		if got := string(f.ErrorBody(err)); !strings.HasPrefix(got, `{"error":{"code":400,"message":`) || !strings.HasSuffix(got, `"status":"INVALID_ARGUMENT"}}`) {
			t.Errorf("error body %s", got)
		}
	}
	if got := string(f.ErrorBody(&core.Error{Kind: core.KindRateLimit, Message: "slow"})); got != `{"error":{"code":429,"message":"slow","status":"RESOURCE_EXHAUSTED"}}` {
		t.Errorf("rate limit body %s", got)
	}
}

// BenchmarkStream decodes a 200-chunk Gemini stream and reads its usage.
func BenchmarkStream(b *testing.B) {
	raw := stream(200)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	defer benchcpu.Start(b)()
	for b.Loop() {
		if u, _ := observe(b, raw, 1<<20); u.ReasoningTokens != 7 {
			b.Fatal(u)
		}
	}
}
