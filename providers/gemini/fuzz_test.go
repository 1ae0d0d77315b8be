package gemini

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
	f.Add([]byte(`{"contents":[{"role":"user","parts":[{"text":"hi"}]}],"generationConfig":{"maxOutputTokens":10}}`))
	f.Add([]byte(`{"candidates":[{"content":{"parts":[{"text":"hello"}],"role":"model"}}],"usageMetadata":{"promptTokenCount":4,"candidatesTokenCount":6,"totalTokenCount":10,"cachedContentTokenCount":1,"thoughtsTokenCount":2}}`))
	f.Add([]byte("data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"he\"}]}}]}\r\n\r\ndata: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"llo\"}]},\"finishReason\":\"STOP\"}],\"usageMetadata\":{\"promptTokenCount\":4,\"candidatesTokenCount\":2,\"totalTokenCount\":6}}\r\n\r\n"))
	f.Add([]byte(`{"model":1,"stream":"yes","messages":{}}`))
	f.Add([]byte(``))
	format := New()
	endpoints := []struct{ method, path string }{{"POST", "/v1beta/models/gemini-1.5-flash:generateContent"}, {"POST", "/v1beta/models/gemini-1.5-flash:streamGenerateContent"}, {"POST", "/v1beta/models/text-embedding-004:embedContent"}}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, ep := range endpoints {
			op, ok := format.MatchHeader(ep.method, ep.path, http.Header{})
			if !ok {
				if op, ok = format.Match(ep.method, ep.path); !ok {
					continue
				}
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
