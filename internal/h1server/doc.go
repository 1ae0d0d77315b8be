// Package h1server is a plaintext HTTP/1.1 server that serves each
// connection on one goroutine and does a request's reads and writes on
// it, with no goroutine started per request in the common case.
//
// net/http's server starts a background read per request once the body
// is read, to notice a client that hangs up while the handler runs, and
// stops it when the handler returns (a read deadline in the past, then a
// wait on a sync.Cond for the reader to wake). On an idle 2-core machine
// both are wake-ups of parked goroutines, often on another thread: 5-14 µs
// a call that a proxy hop on loopback pays at c=1. This server reads
// the common request head itself (headParser: no second request copy, a
// header string equal to the previous request's reused) and leaves every
// other head to http.ReadRequest, on a pooled bufio.Reader; it answers
// with its own http.ResponseWriter, framing the answer as net/http does
// (Content-Length, computed Content-Length, chunked; HEAD; 1xx; Expect:
// 100-continue; HTTP/1.0 keep-alive; pipelining).
//
// Hang-ups are still noticed: the background read starts only when a
// handler is still running HangupCheckDelay after it began, and its body
// has been read to its end (before that the read would take body bytes).
// Calls shorter than the delay, the most of a proxy's calls on a fast
// network, never start it. A write to a client that went away fails and
// cancels the request's context too, so streams notice on their next
// event.
//
// It does not do TLS, HTTP/2, ReadTimeout or WriteTimeout (the handler
// sets deadlines through http.ResponseController), nor put
// http.ServerContextKey in the request's context.
package h1server
