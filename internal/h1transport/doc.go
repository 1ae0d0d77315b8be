// Package h1transport is an HTTP/1.1 client transport that does a round
// trip's I/O on the calling goroutine.
//
// net/http's Transport hands every request to two goroutines per
// connection (a write loop and a read loop) and back, and signals the end
// of each body through a third hand-off. On an idle 2-core machine each
// hand-off is a wake-up of a parked goroutine, often on another thread
// (a futex call and an epoll wait): tens of microseconds per call that
// dominate the latency of a proxy hop on loopback. This transport writes
// the request with the standard library's Request.Write, reads the answer
// (the common response head itself, see headParser; anything else with
// http.ReadResponse), and returns the connection to a keep-alive pool
// when the body has been read to its end — all on the goroutine that
// called RoundTrip (or reads the body).
//
// It speaks HTTP/1.1 over TCP or TLS (ALPN offers only http/1.1) and
// through a plain HTTP forward proxy. Whatever it does not do — HTTP/2,
// CONNECT tunnels and SOCKS proxies, Expect: 100-continue, other schemes —
// it hands to a fallback RoundTripper, normally an *http.Transport.
package h1transport
