package h1server

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"time"
)

// response is the http.ResponseWriter of one request. Its methods are
// called from the handler's goroutine, as net/http requires.
type response struct {
	c      *conn
	req    *http.Request
	body   *requestBody // nil when the request has none
	cancel context.CancelFunc

	handlerHeader http.Header
	// snapshot is the header as it was at WriteHeader, taken when the
	// handler asks for the map again before the head is written: later
	// changes must not reach the client.
	snapshot http.Header

	status        int
	wroteHeader   bool  // a final status is set
	committed     bool  // the head is in the connection's writer
	handlerDone   bool  // the handler has returned
	chunking      bool  // the body is sent chunked
	contentLength int64 // declared or computed; -1 unknown
	written       int64 // body bytes the handler wrote
	trailers      []string

	isHEAD              bool
	wants10KeepAlive    bool
	wantsClose          bool
	closeAfterReply     bool
	requestBodyLimitHit bool // the handler left more body than the server reads
	closedBodyEarly     bool
	setWriteDeadline    bool
}

// Header returns the response header map. See http.ResponseWriter.
func (w *response) Header() http.Header {
	if w.wroteHeader && !w.committed && w.snapshot == nil {
		w.snapshot = w.handlerHeader.Clone()
	}
	return w.handlerHeader
}

// WriteHeader sends a 1xx answer at once, and otherwise sets the status
// the head is written with. See http.ResponseWriter.
func (w *response) WriteHeader(code int) {
	if w.c.hijacked {
		w.c.srv.logf("http: response.WriteHeader on hijacked connection")
		return
	}
	if w.wroteHeader {
		w.c.srv.logf("http: superfluous response.WriteHeader call")
		return
	}
	if code < 100 || code > 999 {
		panic("invalid WriteHeader code " + strconv.Itoa(code))
	}
	if code < 101 || code > 199 {
		// A 100 Continue sent here, or the final answer, means the body
		// reader must not send its own.
		w.disableContinue()
	}
	if code >= 100 && code <= 199 && code != http.StatusSwitchingProtocols {
		w.writeInterim(code)
		return
	}
	w.wroteHeader = true
	w.status = code
	if cl := w.handlerHeader.Get("Content-Length"); cl != "" {
		v, err := strconv.ParseInt(cl, 10, 64)
		if err == nil && v >= 0 {
			w.contentLength = v
		} else {
			w.c.srv.logf("http: invalid Content-Length of %q", cl)
			w.handlerHeader.Del("Content-Length")
		}
	}
}

// writeInterim sends a 1xx head with the current header (RFC 8297 keeps
// the map for the final answer).
func (w *response) writeInterim(code int) {
	lock := w.body != nil && code != http.StatusContinue
	if lock {
		w.body.continueMu.Lock()
		defer w.body.continueMu.Unlock()
	}
	bw := w.c.bw
	writeStatusLine(bw, w.req.ProtoAtLeast(1, 1), code)
	w.handlerHeader.WriteSubset(bw, excludedHeadersNoBody)
	bw.WriteString("\r\n")
	bw.Flush()
}

// Write sends body bytes: held until the handler ends or they fill the
// pending buffer, then with the head. See http.ResponseWriter.
func (w *response) Write(p []byte) (int, error) { return w.write(p, "") }

// WriteString is Write for a string, without copying it first.
func (w *response) WriteString(s string) (int, error) { return w.write(nil, s) }

func (w *response) write(p []byte, s string) (int, error) {
	if w.c.hijacked {
		return 0, http.ErrHijacked
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	n := len(p) + len(s)
	if n == 0 {
		return 0, nil
	}
	if !bodyAllowedForStatus(w.status) {
		return 0, http.ErrBodyNotAllowed
	}
	w.written += int64(n)
	if w.contentLength != -1 && w.written > w.contentLength {
		return 0, http.ErrContentLength
	}
	c := w.c
	if !w.committed {
		if len(c.pending)+n <= cap(c.pending) {
			c.pending = append(c.pending, p...)
			c.pending = append(c.pending, s...)
			return n, nil
		}
		// The head goes out now; sniff the type from what comes first.
		sniff := c.pending
		if k := min(sniffLen-len(sniff), n); k > 0 {
			if p != nil {
				sniff = append(sniff, p[:k]...)
			} else {
				sniff = append(sniff, s[:k]...)
			}
		}
		w.commit(sniff)
		if err := w.sendBody(c.pending, ""); err != nil {
			return 0, err
		}
		c.pending = c.pending[:0]
	}
	if err := w.sendBody(p, s); err != nil {
		return 0, err
	}
	return n, nil
}

// sniffLen is how much http.DetectContentType looks at.
const sniffLen = 512

// sendBody writes body bytes after the head, framed.
func (w *response) sendBody(p []byte, s string) error {
	n := len(p) + len(s)
	if n == 0 || w.isHEAD {
		return nil
	}
	bw := w.c.bw
	if w.chunking {
		var hex [16]byte
		bw.Write(strconv.AppendInt(hex[:0], int64(n), 16))
		bw.WriteString("\r\n")
	}
	bw.Write(p)
	bw.WriteString(s)
	if w.chunking {
		bw.WriteString("\r\n")
	}
	if w.c.werr != nil {
		return w.c.werr
	}
	return nil
}

// Flush sends what is buffered. See http.Flusher.
func (w *response) Flush() { w.FlushError() }

// FlushError sends what is buffered and returns the write's error, as
// http.ResponseController expects.
func (w *response) FlushError() error {
	if w.c.hijacked {
		return http.ErrHijacked
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !w.committed {
		w.commit(w.c.pending)
		w.sendBody(w.c.pending, "")
		w.c.pending = w.c.pending[:0]
	}
	if err := w.c.bw.Flush(); err != nil {
		return err
	}
	return w.c.werr
}

// SetReadDeadline sets the connection's read deadline, for
// http.ResponseController (cmd/host bounds a body's arrival with it).
func (w *response) SetReadDeadline(t time.Time) error {
	return w.c.nc.SetReadDeadline(t)
}

// SetWriteDeadline sets the connection's write deadline, for
// http.ResponseController; the request's end lifts it.
func (w *response) SetWriteDeadline(t time.Time) error {
	w.setWriteDeadline = true
	return w.c.nc.SetWriteDeadline(t)
}

// Hijack hands the connection to the handler. See http.Hijacker.
func (w *response) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c := w.c
	if w.handlerDone {
		return nil, nil, errors.New("h1server: Hijack called after the handler returned")
	}
	if c.hijacked {
		return nil, nil, http.ErrHijacked
	}
	c.watch.stop()
	if w.committed {
		c.bw.Flush()
	}
	c.hijacked = true
	c.nc.SetDeadline(time.Time{})
	if c.cr.hasByte {
		// The byte the watch read goes into the reader handed over.
		if _, err := c.br.Peek(c.br.Buffered() + 1); err != nil {
			return nil, nil, err
		}
	}
	c.srv.trackConn(c, false)
	return c.nc, bufio.NewReadWriter(c.br, bufio.NewWriter(c.nc)), nil
}

// finish ends the answer after the handler returned: the head if not
// yet written (with a Content-Length if the body fit the pending
// buffer), the body's end, one flush; then a bounded drain of the body
// the handler left.
func (w *response) finish() {
	w.handlerDone = true
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	c := w.c
	if !w.committed {
		w.commit(c.pending)
		w.sendBody(c.pending, "")
		c.pending = c.pending[:0]
	}
	if w.chunking {
		w.writeTrailers()
	}
	c.bw.Flush()
	if w.body != nil && !w.closeAfterReply && !w.body.drain() {
		w.closedBodyEarly = true
	}
}

// shouldReuseConnection reports whether the connection may carry another
// request; net/http's rules.
func (w *response) shouldReuseConnection() bool {
	switch {
	case w.closeAfterReply:
		return false
	case !w.isHEAD && w.contentLength != -1 && bodyAllowedForStatus(w.status) && w.contentLength != w.written:
		return false // the framing is off
	case w.c.werr != nil, w.closedBodyEarly:
		return false
	}
	return true
}

// expectationFailed answers an Expect header other than 100-continue.
func (w *response) expectationFailed() {
	w.Header().Set("Connection", "close")
	w.WriteHeader(http.StatusExpectationFailed)
	w.finish()
}

func (w *response) disableContinue() {
	if w.body != nil {
		w.body.disableContinue()
	}
}

var (
	_ http.ResponseWriter = (*response)(nil)
	_ http.Flusher        = (*response)(nil)
	_ http.Hijacker       = (*response)(nil)
)
