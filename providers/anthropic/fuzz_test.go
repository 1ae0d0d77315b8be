package anthropic

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
	f.Add([]byte(`{"model":"claude-3-5-haiku-latest","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"hi"}]}`))
	f.Add([]byte(`{"id":"msg_1","type":"message","role":"assistant","model":"claude-3-5-haiku-latest","content":[{"type":"text","text":"hello"}],"usage":{"input_tokens":10,"output_tokens":5,"cache_read_input_tokens":3,"cache_creation_input_tokens":1}}`))
	f.Add([]byte("event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":10,\"output_tokens\":1}}}\n\nevent: message_delta\ndata: {\"type\":\"message_delta\",\"usage\":{\"output_tokens\":7}}\n\nevent: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"))
	f.Add([]byte(`{"model":1,"stream":"yes","messages":{}}`))
	f.Add([]byte(``))
	format := New()
	endpoints := []string{"POST /v1/messages", "POST /v1/messages/count_tokens"}
	f.Fuzz(func(t *testing.T, body []byte) { providertest.ExerciseFormat(t, format, endpoints, body) })
}
