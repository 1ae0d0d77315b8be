package openai

import (
	"testing"

	"github.com/tollgate-dev/tollgate/providers/providertest"
)

// FuzzFormat feeds arbitrary bytes to every part of the format that reads
// what a client or a provider sent: the request parser and validator, the
// usage reader of a whole answer, and the stream observer over the SSE
// decoder. None may panic, whatever the bytes; the seed corpus is in
// testdata/fuzz/FuzzFormat and runs with every go test.
func FuzzFormat(f *testing.F) {
	f.Add([]byte(`{"model":"gpt-4o-mini","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`))
	f.Add([]byte(`{"id":"c1","object":"chat.completion","model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"hello"}}],"usage":{"prompt_tokens":9,"completion_tokens":12,"total_tokens":21,"prompt_tokens_details":{"cached_tokens":2}}}`))
	f.Add([]byte("data: {\"id\":\"c1\",\"choices\":[{\"delta\":{\"content\":\"he\"}}]}\n\ndata: {\"id\":\"c1\",\"choices\":[],\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":2,\"total_tokens\":11}}\n\ndata: [DONE]\n\n"))
	f.Add([]byte("data: {\"object\":\"error\",\"message\":\"boom\",\"type\":\"BadRequestError\",\"code\":400}\n\ndata: {\"id\":\"c\",\"error\":{\"code\":502,\"message\":\"gone\"},\"choices\":[]}\n\ndata: [DONE]\n\n"))
	f.Add([]byte(`{"error":"boom","error_type":"generation"}`))
	f.Add([]byte(`{"model":1,"stream":"yes","messages":{}}`))
	f.Add([]byte(``))
	format := New()
	endpoints := []string{"POST /v1/chat/completions", "POST /v1/completions", "POST /v1/embeddings", "POST /v1/responses"}
	f.Fuzz(func(t *testing.T, body []byte) { providertest.ExerciseFormat(t, format, endpoints, body) })
}
