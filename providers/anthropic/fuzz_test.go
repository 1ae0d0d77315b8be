package anthropic

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
	f.Add([]byte(`{"model":"claude-3-5-haiku-latest","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"hi"}]}`))
	f.Add([]byte(`{"id":"msg_1","type":"message","role":"assistant","model":"claude-3-5-haiku-latest","content":[{"type":"text","text":"hello"}],"usage":{"input_tokens":10,"output_tokens":5,"cache_read_input_tokens":3,"cache_creation_input_tokens":1}}`))
	f.Add([]byte("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":10,\"output_tokens\":1}}}\n\nevent: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":7}}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"))
	f.Add([]byte(`{"model":1,"stream":"yes","messages":{}}`))
	f.Add([]byte(``))
	format := New()
	endpoints := []struct{ method, path string }{{"POST", "/v1/messages"}, {"POST", "/v1/messages/count_tokens"}}
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
