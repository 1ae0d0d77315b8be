package openai

import (
	"bytes"
	"io"
	"net/http"
	"testing"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/providers/sse"
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
	f.Add([]byte(`{"model":1,"stream":"yes","messages":{}}`))
	f.Add([]byte(``))
	format := New()
	endpoints := []struct{ method, path string }{{"POST", "/v1/chat/completions"}, {"POST", "/v1/completions"}, {"POST", "/v1/embeddings"}, {"POST", "/v1/responses"}}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, ep := range endpoints {
			op, ok := format.Match(ep.method, ep.path)
			if !ok {
				continue
			}
			req := &core.Request{Method: ep.method, Path: ep.path, Operation: op, Format: format,
				Body: bytes.Clone(body), Header: http.Header{}}
			format.Parse(req)
			format.Validate(req)
			format.Usage(req, body)
			obs := format.ObserveStream(req)
			s := sse.NewReader(bytes.NewReader(body))
			var u core.Usage
			for {
				ev, err := s.Next()
				if err != nil {
					if err != io.EOF && ev != nil {
						t.Fatalf("an event with an error: %v", err)
					}
					break
				}
				if obs != nil {
					obs.Observe(ev, &u)
				}
			}
			if obs != nil {
				obs.Finished()
			}
			format.ErrorBody(&core.Error{Kind: core.KindValidation, Message: string(body)})
		}
	})
}
