package h1server

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"
	"time"
)

// connection states, for Shutdown.
const (
	stateNew    = iota // accepted, no request yet
	stateActive        // reading or serving a request
	stateIdle          // waiting for the next request
)

// conn is one client connection, served on one goroutine.
type conn struct {
	srv        *Server
	nc         net.Conn
	remoteAddr string
	base       context.Context // Server.BaseContext's, for this listener
	ctx        context.Context // cancelled when the connection dies
	cancel     context.CancelFunc

	cr    connReader
	head  headParser
	br    *bufio.Reader
	bw    *bufio.Writer
	watch watch

	// pending holds a response's first bytes until the handler ends or
	// they fill it: then the Content-Length is known (net/http's 2 KiB).
	pending []byte

	werr       error // the first write error; the connection is done
	lastMethod string
	hijacked   bool

	state atomic.Uint64 // state<<62 | unix nanoseconds since
}

func (s *Server) newConn(nc net.Conn, base context.Context) *conn {
	c := &conn{srv: s, nc: nc, base: base}
	c.cr.c = c
	c.watch.c = c
	c.watch.cond.L = &c.watch.mu
	c.setState(stateNew)
	return c
}

func (c *conn) setState(st uint64) {
	c.state.Store(st<<62 | uint64(time.Now().UnixNano())&(1<<62-1))
}

func (c *conn) getState() (uint64, time.Time) {
	v := c.state.Load()
	return v >> 62, time.Unix(0, int64(v&(1<<62-1)))
}

func (c *conn) serve() {
	if ra := c.nc.RemoteAddr(); ra != nil {
		c.remoteAddr = ra.String()
	}
	c.ctx, c.cancel = context.WithCancel(context.WithValue(c.base, http.LocalAddrContextKey, c.nc.LocalAddr()))
	c.br = getReader(&c.cr)
	c.bw = getWriter(connWriter{c})
	c.pending = getPending()
	var inFlight *response
	defer func() {
		if err := recover(); err != nil && err != http.ErrAbortHandler {
			const size = 64 << 10
			buf := make([]byte, size)
			buf = buf[:runtime.Stack(buf, false)]
			c.srv.logf("http: panic serving %v: %v\n%s", c.remoteAddr, err, buf)
		}
		if inFlight != nil {
			inFlight.cancel()
			if inFlight.body != nil {
				inFlight.body.disableContinue()
			}
		}
		c.cancel()
		if c.hijacked {
			return
		}
		if inFlight != nil {
			c.watch.stop()
		}
		c.close()
	}()

	if d := c.srv.ReadHeaderTimeout; d > 0 {
		c.nc.SetReadDeadline(time.Now().Add(d))
	}
	for {
		w, err := c.readRequest()
		if c.cr.remain != c.srv.maxHeaderBytes() {
			c.setState(stateActive)
		}
		if c.srv.shuttingDown() {
			return
		}
		if err != nil {
			c.badRequest(err)
			return
		}
		req := w.req
		if expectsContinue(req) {
			if req.ProtoAtLeast(1, 1) && req.ContentLength != 0 && w.body != nil {
				w.body.wantsContinue.Store(true)
				w.body.expected = true
			}
		} else if req.Header.Get("Expect") != "" {
			w.expectationFailed()
			return
		}

		c.watch.start(w.body == nil, c.srv.hangupCheckDelay())
		inFlight = w
		c.srv.handlerFor(req).ServeHTTP(w, req)
		inFlight = nil
		w.cancel()
		if c.hijacked {
			return
		}
		c.watch.stop()
		w.finish()
		if w.setWriteDeadline {
			c.nc.SetWriteDeadline(time.Time{})
		}
		if !w.shouldReuseConnection() {
			if w.requestBodyLimitHit || w.closedBodyEarly {
				c.closeWriteAndWait()
			}
			return
		}
		c.setState(stateIdle)
		if c.srv.shuttingDown() {
			return
		}
		if d := c.srv.IdleTimeout; d > 0 {
			c.nc.SetReadDeadline(time.Now().Add(d))
		} else {
			c.nc.SetReadDeadline(time.Time{})
		}
		// The header timeout starts with the next request's first bytes.
		if _, err := c.br.Peek(4); err != nil {
			return
		}
		if d := c.srv.ReadHeaderTimeout; d > 0 {
			c.nc.SetReadDeadline(time.Now().Add(d))
		} else {
			c.nc.SetReadDeadline(time.Time{})
		}
	}
}

// readRequest reads the next request head and makes its response.
func (c *conn) readRequest() (*response, error) {
	c.cr.setReadLimit(c.srv.maxHeaderBytes())
	if c.lastMethod == "POST" {
		// RFC 7230 section 3: tolerate the stray CRLF old clients send
		// after a POST body.
		peek, _ := c.br.Peek(4)
		c.br.Discard(numLeadingCRorLF(peek))
	}
	req, cancel := c.head.read(c.br, c.newRequestContext)
	hostSent := req != nil && c.head.hostSent
	if req == nil {
		hostSent = sentHost(c.br)
		var err error
		if req, err = http.ReadRequest(c.br); err != nil {
			if c.cr.hitReadLimit() {
				return nil, errTooLarge
			}
			return nil, err
		}
	}
	if req.ProtoMajor != 1 {
		return nil, statusError{http.StatusHTTPVersionNotSupported, "unsupported protocol version"}
	}
	c.lastMethod = req.Method
	c.cr.setInfiniteReadLimit()
	if err := checkHead(req, hostSent); err != nil {
		if cancel != nil {
			cancel()
		}
		return nil, err
	}
	if cancel == nil {
		var ctx context.Context
		ctx, cancel = c.newRequestContext()
		req = req.WithContext(ctx)
	}
	req.RemoteAddr = c.remoteAddr
	// The header timeout ends with the head; the body's own deadline is
	// the handler's to set (cmd/host's bodyDeadline).
	c.nc.SetReadDeadline(time.Time{})

	w := &response{
		c:                c,
		req:              req,
		cancel:           cancel,
		handlerHeader:    make(http.Header),
		contentLength:    -1,
		isHEAD:           req.Method == "HEAD",
		wants10KeepAlive: wants10KeepAlive(req),
		wantsClose:       req.Close || hasToken(req.Header.Get("Connection"), "close"),
	}
	switch {
	case req.Body == http.NoBody && req.ContentLength > 0:
		// The fast head's body: read here, without net/http's reader.
		w.body = &requestBody{br: c.br, left: req.ContentLength, w: w, length: req.ContentLength}
		req.Body = w.body
	case req.Body != nil && req.Body != http.NoBody:
		w.body = &requestBody{rc: req.Body, w: w, length: req.ContentLength}
		req.Body = w.body
	}
	return w, nil
}

// newRequestContext is a request's context: cancelled when its handler
// returns or the connection dies.
func (c *conn) newRequestContext() (context.Context, context.CancelFunc) {
	return context.WithCancel(c.ctx)
}

// checkHead refuses what net/http's server refuses beyond http.ReadRequest:
// a missing or malformed Host, invalid header names and values. hostSent
// says the head had a Host line, so that an empty one (RFC 9112 section
// 3.2: a target without an authority) is not taken for a missing one.
// The fast parser records it; for the heads left to http.ReadRequest,
// which drops the line, sentHost looks for it first.
func checkHead(req *http.Request, hostSent bool) error {
	if req.ProtoAtLeast(1, 1) && req.Host == "" && !hostSent && req.Method != "CONNECT" {
		return statusError{http.StatusBadRequest, "missing required Host header"}
	}
	if !validHost(req.Host) {
		return statusError{http.StatusBadRequest, "malformed Host header"}
	}
	for k, vv := range req.Header {
		if !validHeaderName(k) {
			return statusError{http.StatusBadRequest, "invalid header name"}
		}
		for _, v := range vv {
			if !validHeaderValue(v) {
				return statusError{http.StatusBadRequest, "invalid header value"}
			}
		}
	}
	return nil
}

// badRequest answers a request that could not be read, as net/http does,
// and the connection closes after it.
func (c *conn) badRequest(err error) {
	const errorHeaders = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"
	var se statusError
	switch {
	case err == errTooLarge:
		const publicErr = "431 Request Header Fields Too Large"
		io.WriteString(c.nc, "HTTP/1.1 "+publicErr+errorHeaders+publicErr)
		c.closeWriteAndWait()
	case strings.HasPrefix(err.Error(), "unsupported transfer encoding"):
		// RFC 7230 section 3.3.1: 501 for a transfer coding the server
		// does not know, without echoing it.
		io.WriteString(c.nc, "HTTP/1.1 501 Not Implemented"+errorHeaders+"Unsupported transfer encoding")
	case isCommonNetReadError(err):
		// The client went away or timed out: no answer.
	case errors.As(err, &se):
		fmt.Fprintf(c.nc, "HTTP/1.1 %d %s: %s%s%d %s: %s", se.code, http.StatusText(se.code), se.text, errorHeaders, se.code, http.StatusText(se.code), se.text)
	default:
		const publicErr = "400 Bad Request"
		io.WriteString(c.nc, "HTTP/1.1 "+publicErr+errorHeaders+publicErr)
	}
}

// closeWriteAndWait flushes, half-closes and waits a little before the
// connection closes, so a client still sending its request reads the
// answer before a reset (net/http's rstAvoidanceDelay).
func (c *conn) closeWriteAndWait() {
	c.flush()
	if tcp, ok := c.nc.(interface{ CloseWrite() error }); ok {
		tcp.CloseWrite()
	}
	time.Sleep(500 * time.Millisecond)
}

func (c *conn) flush() {
	if c.bw != nil {
		c.bw.Flush()
	}
}

// close flushes what is buffered, as net/http does, and closes.
func (c *conn) close() {
	c.flush()
	c.nc.Close()
	c.srv.trackConn(c, false)
	putReader(c.br)
	putWriter(c.bw)
	putPending(c.pending)
	c.br, c.bw, c.pending = nil, nil, nil
}

// connWriter is what the connection's bufio.Writer writes to: a failed
// write is the client gone, which cancels the connection's context, so a
// stream notices on its next event.
type connWriter struct{ c *conn }

func (w connWriter) Write(p []byte) (int, error) {
	n, err := w.c.nc.Write(p)
	if err != nil && w.c.werr == nil {
		w.c.werr = err
		w.c.cancel()
	}
	return n, err
}
