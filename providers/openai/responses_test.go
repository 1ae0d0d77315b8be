package openai_test

import (
	"bytes"
	"fmt"
	"io"
	"testing"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/internal/benchcpu"
	"github.com/tollgate-dev/tollgate/providers/openai"
	"github.com/tollgate-dev/tollgate/providers/sse"
)

const responsesUsage = `{"input_tokens":36,"input_tokens_details":{"cached_tokens":12},"output_tokens":25,"output_tokens_details":{"reasoning_tokens":9},"total_tokens":61}`

var wantResponses = core.Usage{InputTokens: 36, OutputTokens: 25, TotalTokens: 61, CachedInputTokens: 12, ReasoningTokens: 9}

// responsesStream builds a Responses API stream with n text deltas.
func responsesStream(n int) []byte {
	var b bytes.Buffer
	seq := 0
	ev := func(typ, fields string) {
		fmt.Fprintf(&b, "event: %s\ndata: {\"type\":%q,%s,\"sequence_number\":%d}\n\n", typ, typ, fields, seq)
		seq++
	}
	ev("response.created", `"response":{"id":"resp_1","object":"response","status":"in_progress","output":[],"usage":null}`)
	ev("response.in_progress", `"response":{"id":"resp_1","object":"response","status":"in_progress","output":[],"usage":null}`)
	for i := 0; i < n; i++ {
		ev("response.output_text.delta", `"item_id":"msg_1","output_index":0,"content_index":0,"delta":" word"`)
	}
	ev("response.completed", `"response":{"id":"resp_1","object":"response","status":"completed","output":[{"type":"message","content":[{"type":"output_text","text":"usage"}]}],"usage":`+responsesUsage+`,"metadata":{"usage":"x"}}`)
	return b.Bytes()
}

func observe(t testing.TB, op string, raw []byte, limit int) (core.Usage, bool) {
	req := &core.Request{Operation: op}
	obs := openai.New().ObserveStream(req)
	return observeN(t, obs, raw, limit)
}

// observeWith feeds a whole stream to obs and reports whether it finished.
func observeWith(t testing.TB, obs core.StreamObserver, raw []byte) bool {
	_, done := observeN(t, obs, raw, 1<<20)
	return done
}

func observeN(t testing.TB, obs core.StreamObserver, raw []byte, limit int) (core.Usage, bool) {
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

func TestResponsesUsage(t *testing.T) {
	u, done := observe(t, openai.OpResponses, responsesStream(30), 1000)
	if u != wantResponses || !done {
		t.Errorf("stream usage %+v finished %v, want %+v", u, done, wantResponses)
	}
	whole := []byte(`{"id":"resp_1","object":"response","output":[{"content":[{"text":"\"usage\":{}"}]}],"usage":` + responsesUsage + `,"metadata":{"usage":"x"}}`)
	if got, ok := openai.New().Usage(&core.Request{Operation: openai.OpResponses}, whole); !ok || got != wantResponses {
		t.Errorf("whole usage %+v, want %+v", got, wantResponses)
	}
	u, done = observe(t, openai.OpResponses, responsesStream(30), 6)
	if done || !u.Estimated || u.OutputTokens != 4 {
		t.Errorf("cut stream usage %+v finished %v, want 4 estimated output tokens", u, done)
	}
}

func TestEmbeddingsUsage(t *testing.T) {
	body := []byte(`{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.1,0.2]}],"model":"m","usage":{"prompt_tokens":8,"total_tokens":8}}`)
	got, ok := openai.New().Usage(&core.Request{Operation: openai.OpEmbeddings}, body)
	if !ok || got != (core.Usage{InputTokens: 8, TotalTokens: 8}) {
		t.Errorf("embeddings usage %+v", got)
	}
	if _, ok := openai.New().Usage(&core.Request{Operation: "files"}, body); ok {
		t.Error("a passed-through operation must report no usage")
	}
}

func TestMatch(t *testing.T) {
	tests := []struct{ method, path, op string }{
		{"POST", "/v1/chat/completions", "chat.completions"},
		{"POST", "/v1/completions", "completions"},
		{"POST", "/v1/embeddings", "embeddings"},
		{"POST", "/v1/responses", "responses"},
		{"GET", "/v1/responses/resp_1", "responses.get"},
		{"GET", "/v1/models", "models.list"},
		{"GET", "/v1/models/gpt-4o", "models.retrieve"},
		{"POST", "/v1/files", "files"},
		{"GET", "/v1/batches/b1", "batches"},
		{"POST", "/v1/audio/transcriptions", "audio"},
		{"POST", "/v2/chat", ""},
		{"GET", "/v1/", ""},
	}
	for _, tt := range tests {
		op, ok := openai.New().Match(tt.method, tt.path)
		if ok != (tt.op != "") || op != tt.op {
			t.Errorf("%s %s = %q %v, want %q", tt.method, tt.path, op, ok, tt.op)
		}
	}
}

func TestValidateOther(t *testing.T) {
	f := openai.New()
	tests := []struct{ op, body, want string }{
		{openai.OpEmbeddings, `{"model":"m","input":"hi"}`, ""},
		{openai.OpEmbeddings, `{"model":"m"}`, "input"},
		{openai.OpEmbeddings, `{"input":"x"}`, "model"},
		{openai.OpResponses, `{"model":"m","input":"hi","stream":true}`, ""},
		{openai.OpResponses, `{"prompt":{"id":"pmpt_1"}}`, ""},
		{openai.OpResponses, `{"input":"hi"}`, "model"},
		{openai.OpResponses, `{"model":"m","stream":"yes"}`, "stream"},
		{openai.OpResponses, `[1]`, "JSON object"},
		{"files", `not json at all`, ""},
	}
	for _, tt := range tests {
		req := &core.Request{Operation: tt.op, Body: []byte(tt.body)}
		f.Parse(req)
		err := f.Validate(req)
		if (err == nil) != (tt.want == "") || err != nil && err.Param != tt.want && !bytes.Contains([]byte(err.Message), []byte(tt.want)) {
			t.Errorf("%s %s: %v, want %q", tt.op, tt.body, err, tt.want)
		}
	}
}

// BenchmarkResponsesStream decodes a 200-delta Responses stream and reads its
// usage.
func BenchmarkResponsesStream(b *testing.B) {
	raw := responsesStream(200)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	defer benchcpu.Start(b)()
	for b.Loop() {
		if u, _ := observe(b, openai.OpResponses, raw, 1<<20); u.OutputTokens != 25 {
			b.Fatal(u)
		}
	}
}

// chatStream builds a chat completion stream with n content chunks and the
// usage chunk.
func chatStream(n int) []byte {
	var b bytes.Buffer
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"gpt-4o\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\" word\"},\"finish_reason\":null}],\"usage\":null}\n\n")
	}
	b.WriteString(`data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[],"usage":{"prompt_tokens":36,"completion_tokens":25,"total_tokens":61,"prompt_tokens_details":{"cached_tokens":12},"completion_tokens_details":{"reasoning_tokens":9}}}` + "\n\n")
	b.WriteString("data: [DONE]\n\n")
	return b.Bytes()
}

// BenchmarkChatStream decodes a 200-chunk chat completion stream and reads
// its usage.
func BenchmarkChatStream(b *testing.B) {
	raw := chatStream(200)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	defer benchcpu.Start(b)()
	for b.Loop() {
		if u, _ := observe(b, openai.OpChatCompletions, raw, 1<<20); u != wantResponses {
			b.Fatal(u)
		}
	}
}

// BenchmarkChatToolStream decodes a 200-chunk stream of a tool call's
// arguments, chunks without text, and reads its usage.
func BenchmarkChatToolStream(b *testing.B) {
	raw := bytes.ReplaceAll(chatStream(200), []byte(`"delta":{"content":" word"}`),
		[]byte(`"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"a\":"}}]}`))
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	defer benchcpu.Start(b)()
	for b.Loop() {
		if u, _ := observe(b, openai.OpChatCompletions, raw, 1<<20); u != wantResponses {
			b.Fatal(u)
		}
	}
}

func TestResponsesFailedIsAFailure(t *testing.T) {
	raw := []byte("event: response.failed\ndata: {\"type\":\"response.failed\",\"response\":{\"status\":\"failed\",\"error\":{\"code\":\"server_error\",\"message\":\"boom\"},\"usage\":" + responsesUsage + "}}\n\n")
	obs := openai.New().ObserveStream(&core.Request{Operation: openai.OpResponses})
	ev, _ := sse.NewReader(bytes.NewReader(raw)).Next()
	var u core.Usage
	obs.Observe(ev, &u)
	if f := obs.(core.StreamFailer).Failure(); f != "response.failed: server_error: boom" || u != wantResponses {
		t.Errorf("failure %q usage %+v", f, u)
	}
}
