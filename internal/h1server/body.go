package h1server

import (
	"bufio"
	"errors"
	"io"
	"net/http"
	"sync"
	"sync/atomic"

	"github.com/tollgate-dev/tollgate/internal/h1head"
)

// maxPostHandlerReadBytes is how much of a body the handler left unread
// the server reads to keep the connection, as in net/http; past it the
// connection closes.
const maxPostHandlerReadBytes = 256 << 10

// requestBody is a request's body as the handler sees it: it sends 100
// Continue before the first read when the client asked, tells the
// hang-up watch when the body ends, and lets the server drain what the
// handler left, up to a bound, without net/http's unbounded drain on
// Close. It may be read from another goroutine than the handler's (a
// transport writing it upstream), one at a time, as http.Request.Body.
type requestBody struct {
	rc     io.ReadCloser // from http.ReadRequest; nil for a fast head's
	w      *response
	length int64 // the request's ContentLength, -1 unknown

	// A fast head's Content-Length body is read from br directly, as
	// net/http's reader does it (see readFixed).
	br      *bufio.Reader
	left    int64
	srcDone bool

	read   atomic.Int64
	sawEOF atomic.Bool
	closed atomic.Bool

	// continueMu guards sending 100 Continue against the response
	// taking the connection's writer.
	continueMu    sync.Mutex
	wantsContinue atomic.Bool
	expected      bool // the client asked for 100 Continue
}

var errBodyReadAfterClose = http.ErrBodyReadAfterClose

func (b *requestBody) Read(p []byte) (int, error) {
	if b.closed.Load() {
		return 0, errBodyReadAfterClose
	}
	return b.readBody(p)
}

func (b *requestBody) readBody(p []byte) (int, error) {
	if b.wantsContinue.Load() {
		b.sendContinue()
	}
	var n int
	var err error
	if b.rc != nil {
		n, err = b.rc.Read(p)
	} else {
		n, err = b.readFixed(p)
	}
	b.read.Add(int64(n))
	if err == io.EOF && !b.sawEOF.Swap(true) {
		b.w.c.watch.bodyEnd()
	}
	return n, err
}

// readFixed reads a Content-Length body as net/http's body over an
// io.LimitedReader does: an EOF with the body short is
// io.ErrUnexpectedEOF, the last bytes come with io.EOF, and after the
// end every read is io.EOF.
func (b *requestBody) readFixed(p []byte) (int, error) {
	if b.srcDone || b.left <= 0 {
		b.srcDone = true
		return 0, io.EOF
	}
	n, err := h1head.ReadFixed(b.br, p, b.left)
	b.left -= int64(n)
	b.srcDone = err == io.EOF || err == io.ErrUnexpectedEOF
	return n, err
}

func (b *requestBody) sendContinue() {
	b.continueMu.Lock()
	defer b.continueMu.Unlock()
	if !b.wantsContinue.Swap(false) {
		return
	}
	bw := b.w.c.bw
	bw.WriteString("HTTP/1.1 100 Continue\r\n\r\n")
	bw.Flush()
}

// disableContinue stops a later read from sending 100 Continue: the
// response is taking the connection's writer.
func (b *requestBody) disableContinue() {
	b.continueMu.Lock()
	b.wantsContinue.Store(false)
	b.continueMu.Unlock()
}

// unsentAfterExpect reports whether the client asked for 100 Continue
// and its body has not been read to the end: it may or may not be
// sending it.
func (b *requestBody) unsentAfterExpect() bool {
	return b.expected && !b.sawEOF.Load()
}

// Close marks the body closed; the server drains what is left, bounded,
// when the answer starts or ends.
func (b *requestBody) Close() error {
	b.closed.Store(true)
	return nil
}

// drain reads what the handler left of the body, up to
// maxPostHandlerReadBytes, and reports whether the body ended (so the
// connection may carry another request).
func (b *requestBody) drain() bool {
	if b.sawEOF.Load() {
		return true
	}
	if b.length >= 0 && b.length-b.read.Load() > maxPostHandlerReadBytes {
		return false
	}
	_, err := io.CopyN(io.Discard, readerFunc(b.readBody), maxPostHandlerReadBytes+1)
	return errors.Is(err, io.EOF)
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }
