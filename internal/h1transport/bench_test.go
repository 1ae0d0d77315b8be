package h1transport_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/internal/benchcpu"
	"github.com/tollgate-dev/tollgate/internal/h1transport"
)

// BenchmarkRoundTrip sends sequential calls (c=1) with a 1 KB body to a
// loopback server that answers 1 KB, through net/http's Transport and
// through this one. The server runs in the same process, so it shares the
// scheduler: loadtest's c=1 rows, with the upstream in its own process,
// are the figure that counts (docs/benchmarks.md).
func BenchmarkRoundTrip(b *testing.B) {
	answer := strings.Repeat("a", 1024)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, answer)
	}))
	defer srv.Close()
	body := bytes.Repeat([]byte("x"), 1024)
	for _, tt := range []struct {
		name string
		rt   http.RoundTripper
	}{
		{"net-http", &http.Transport{MaxIdleConnsPerHost: 4}},
		{"h1transport", &h1transport.Transport{MaxIdleConnsPerHost: 4}},
	} {
		b.Run(tt.name, func(b *testing.B) {
			b.ReportAllocs()
			defer benchcpu.Start(b)()
			for b.Loop() {
				req, _ := http.NewRequest("POST", srv.URL+"/v1/chat/completions", bytes.NewReader(body))
				resp, err := tt.rt.RoundTrip(req)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
}
