package providertest

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// BenchmarkChatCompletion measures one answer in memory, without a network,
// as the upstream of the gateway's benchmarks.
//
//	go test -run '^$' -bench . -benchmem ./providers/providertest/
func BenchmarkChatCompletion(b *testing.B) {
	benchmarks := []struct {
		name string
		body string
	}{
		{name: "plain", body: chatBody},
		{name: "stream", body: `{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"Say hi please"}]}`},
	}
	for _, bm := range benchmarks {
		b.Run(bm.name, func(b *testing.B) {
			p := NewHandler(WithRecordLimit(0))
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest(http.MethodPost, "/v1/chat/completions", strings.NewReader(bm.body))
				w := httptest.NewRecorder()
				p.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Fatalf("status %d: %s", w.Code, w.Body)
				}
			}
		})
	}
}
