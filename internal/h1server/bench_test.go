package h1server_test

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/internal/benchcpu"
	"github.com/tollgate-dev/tollgate/internal/h1server"
	"github.com/tollgate-dev/tollgate/internal/h1transport"
)

// BenchmarkRoundTrip sends sequential calls (c=1) with a 1 KB body over
// loopback to net/http's server and to this one, which answer 1 KB;
// h1transport is the client. Client and server share the process and
// its scheduler: loadtest's c=1 rows are the figure that counts
// (docs/benchmarks.md).
func BenchmarkRoundTrip(b *testing.B) {
	answer := strings.Repeat("a", 1024)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, answer)
	})
	body := bytes.Repeat([]byte("x"), 1024)
	type server interface {
		Serve(net.Listener) error
		Close() error
	}
	for _, tt := range []struct {
		name string
		srv  func() server // a closed server cannot serve again: one per run
	}{
		{"net-http", func() server { return &http.Server{Handler: h} }},
		{"h1server", func() server { return &h1server.Server{Handler: h} }},
	} {
		b.Run(tt.name, func(b *testing.B) {
			srv := tt.srv()
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			go srv.Serve(ln)
			defer srv.Close()
			url := "http://" + ln.Addr().String() + "/v1/chat/completions"
			rt := &h1transport.Transport{}
			b.ReportAllocs()
			defer benchcpu.Start(b)()
			for b.Loop() {
				req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
				resp, err := rt.RoundTrip(req)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
}
