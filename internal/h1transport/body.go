package h1transport

import (
	"errors"
	"io"
	"sync/atomic"

	"github.com/tollgate-dev/tollgate/internal/h1head"
)

// body is a response body on a connection: read to its end it gives the
// connection back to the pool; closed early, or failed, it closes the
// connection. Close may be called while a Read is blocked on another
// goroutine: closing the connection ends that Read.
type body struct {
	rc       io.Reader // from http.ReadResponse; nil when readConn frames the body
	c        *conn
	stop     func() bool  // ends the context's hold on the connection
	keep     bool         // the connection may serve another request
	left     atomic.Int64 // bytes of a Content-Length body not read yet; -1 unknown
	finished atomic.Bool
	eof      atomic.Bool
}

func (b *body) Read(p []byte) (int, error) {
	if b.finished.Load() {
		if b.eof.Load() {
			return 0, io.EOF
		}
		return 0, errBodyClosed
	}
	var n int
	var err error
	if b.rc != nil {
		n, err = b.rc.Read(p)
	} else {
		n, err = b.readConn(p)
	}
	if n > 0 {
		b.left.Add(-int64(n))
	}
	switch {
	case err == io.EOF:
		b.eof.Store(true)
		b.finish(true)
	case err != nil:
		b.finish(false)
	}
	return n, err
}

// readConn reads a body the fast head framed, as net/http's body reader
// would: its Content-Length bytes (io.EOF with the last ones,
// io.ErrUnexpectedEOF when the connection ends first), or everything to
// the connection's end when the length is unknown (-1).
func (b *body) readConn(p []byte) (int, error) {
	left := b.left.Load()
	switch {
	case left < 0:
		return b.c.br.Read(p)
	case left == 0:
		return 0, io.EOF
	}
	return h1head.ReadFixed(b.c.br, p, left)
}

// Close ends the body; before its end, that closes the connection. A
// Content-Length body whose every byte was read counts as ended even if
// the reader never asked for the EOF.
func (b *body) Close() error {
	b.finish(b.left.Load() == 0)
	return nil
}

func (b *body) finish(complete bool) {
	if !b.finished.CompareAndSwap(false, true) {
		return
	}
	if complete {
		b.c.done(b.stop, b.keep)
		return
	}
	b.stop()
	b.c.close()
}

var errBodyClosed = errors.New("h1transport: read on closed response body")
