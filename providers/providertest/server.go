package providertest

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// Server is a [Provider] served on a loopback address by an
// [httptest.Server].
type Server struct {
	// Provider is the fake being served: inject faults and read requests
	// through it.
	*Provider
	// URL is the base URL, such as http://127.0.0.1:PORT, without a trailing
	// slash. It works as an OpenAI base URL as is or with /v1 appended.
	URL string

	srv *httptest.Server
}

// NewServer starts a [Provider] configured by opts on a loopback address and
// closes it when the test ends.
func NewServer(t testing.TB, opts ...Option) *Server {
	t.Helper()
	p := NewHandler(opts...)
	srv := httptest.NewServer(p)
	s := &Server{Provider: p, URL: srv.URL, srv: srv}
	t.Cleanup(s.Close)
	return s
}

// Client returns an HTTP client that reaches the server and whose idle
// connections close with it.
func (s *Server) Client() *http.Client {
	return s.srv.Client()
}

// Close releases requests still waiting on a latency or chunk delay, then
// shuts the server down. It is safe to call more than once.
func (s *Server) Close() {
	s.Provider.close()
	s.srv.Close()
}
