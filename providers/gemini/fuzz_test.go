package gemini

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
	f.Add([]byte(`{"contents":[{"role":"user","parts":[{"text":"hi"}]}],"generationConfig":{"maxOutputTokens":10}}`))
	f.Add([]byte(`{"candidates":[{"content":{"parts":[{"text":"hello"}],"role":"model"}}],"usageMetadata":{"promptTokenCount":4,"candidatesTokenCount":6,"totalTokenCount":10,"cachedContentTokenCount":1,"thoughtsTokenCount":2}}`))
	f.Add([]byte("data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"he\"}]}}]}\r\n\r\ndata: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"llo\"}]},\"finishReason\":\"STOP\"}],\"usageMetadata\":{\"promptTokenCount\":4,\"candidatesTokenCount\":2,\"totalTokenCount\":6}}\r\n\r\n"))
	f.Add([]byte(`{"model":1,"stream":"yes","messages":{}}`))
	f.Add([]byte(``))
	format := New()
	endpoints := []string{"POST /v1beta/models/gemini-1.5-flash:generateContent", "POST /v1beta/models/gemini-1.5-flash:streamGenerateContent", "POST /v1beta/models/text-embedding-004:embedContent"}
	f.Fuzz(func(t *testing.T, body []byte) { providertest.ExerciseFormat(t, format, endpoints, body) })
}
