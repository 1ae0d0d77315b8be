package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"time"
)

// bodyDeadline bounds the time a request's body may take to arrive: d from
// the moment the handler starts, when the headers have been read. A client
// that sends its headers and then trickles the body, or stops, gets an
// error when d passes — the gateway answers 400 naming
// server.read_body_timeout, if the client still reads, with Connection:
// close — and its connection is closed, so it cannot hold a connection and
// a goroutine for long. Each cut is logged with the client's address.
//
// The deadline ends with the body: at its end the server lifts the read
// deadline to watch for the client going away while the answer is made (and
// this wrapper lifts it too), so it never bounds the answer, and a stream
// may run as long as it runs. http.Server.ReadTimeout would bound the body
// as well, but counted from the first byte of the headers, and the handler
// would see a bare "i/o timeout" with nothing logged. d <= 0 leaves h as it
// is.
func bodyDeadline(h http.Handler, d time.Duration, log *slog.Logger) http.Handler {
	if d <= 0 {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body == nil || r.Body == http.NoBody {
			h.ServeHTTP(w, r)
			return
		}
		if err := http.NewResponseController(w).SetReadDeadline(time.Now().Add(d)); err != nil {
			h.ServeHTTP(w, r) // a writer without deadlines (not the host's own server)
			return
		}
		r.Body = &deadlineBody{ReadCloser: r.Body, w: w, r: r, d: d, log: log}
		h.ServeHTTP(w, r)
	})
}

// deadlineBody lifts the read deadline at the end of the body, and reports
// a body that did not arrive in time.
type deadlineBody struct {
	io.ReadCloser
	w       http.ResponseWriter
	r       *http.Request
	d       time.Duration
	log     *slog.Logger
	read    int64
	ended   bool
	expired bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.read += int64(n)
	switch {
	case err == io.EOF && !b.ended:
		b.ended = true
		// The server's background read, which watches for the client
		// going away while the answer is made, starts now and must wait
		// as long as the answer takes. net/http lifts the deadline itself
		// when it starts that read; lifting it here too does not depend
		// on that.
		http.NewResponseController(b.w).SetReadDeadline(time.Time{})
	case err != nil && errors.Is(err, os.ErrDeadlineExceeded):
		if !b.expired {
			b.expired = true
			// The rest of the body may still come: the connection cannot
			// carry another request.
			b.w.Header().Set("Connection", "close")
			b.log.Warn("a client did not send its request body within server.read_body_timeout; closing its connection",
				"remote", b.r.RemoteAddr, "method", b.r.Method, "path", b.r.URL.Path,
				"read_bytes", b.read, "content_length", b.r.ContentLength, "read_body_timeout", b.d)
		}
		return n, &bodyTimeoutError{d: b.d, read: b.read, length: b.r.ContentLength}
	}
	return n, err
}

// bodyTimeoutError is what the handler reading the body sees; it is an
// os.ErrDeadlineExceeded, which the engine answers with 408.
type bodyTimeoutError struct {
	d      time.Duration
	read   int64
	length int64
}

func (e *bodyTimeoutError) Error() string {
	of := ""
	if e.length >= 0 {
		of = fmt.Sprintf(" of %d", e.length)
	}
	return fmt.Sprintf("the body did not arrive within server.read_body_timeout (%s): %d%s bytes came", e.d, e.read, of)
}

// Timeout reports true: the error is a deadline passing.
func (e *bodyTimeoutError) Timeout() bool { return true }

// Unwrap lets errors.Is(err, os.ErrDeadlineExceeded) hold.
func (e *bodyTimeoutError) Unwrap() error { return os.ErrDeadlineExceeded }
