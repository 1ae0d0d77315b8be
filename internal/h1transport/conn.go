package h1transport

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"time"
)

// conn is one HTTP/1.1 connection: used by one round trip at a time,
// pooled between them.
type conn struct {
	t         *Transport
	key       string
	nc        net.Conn // TCP, or TLS over it
	raw       net.Conn // the TCP connection, for the liveness check
	state     *tls.ConnectionState
	lr        limitReader // counts the response head's bytes
	br        *bufio.Reader
	bw        *bufio.Writer
	cw        countWriter
	idleSince time.Time
	probe     probe      // stillOpen's
	head      headParser // the common response heads
}

// conn returns a pooled connection for r, or dials one.
func (t *Transport) conn(ctx context.Context, r route) (c *conn, reused bool, err error) {
	if c := t.pool.get(r.key, t.IdleConnTimeout); c != nil {
		return c, true, nil
	}
	c, err = t.dial(ctx, r)
	return c, false, err
}

func (t *Transport) dial(ctx context.Context, r route) (*conn, error) {
	dial := t.DialContext
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	raw, err := dial(ctx, "tcp", r.addr)
	if err != nil {
		return nil, err
	}
	c := &conn{t: t, key: r.key, nc: raw, raw: raw}
	if r.tls {
		if err := c.handshake(ctx, r.host); err != nil {
			raw.Close()
			return nil, err
		}
	}
	c.lr = limitReader{r: c.nc, n: math.MaxInt64}
	c.cw = countWriter{w: c.nc}
	c.br = bufio.NewReaderSize(&c.lr, bufSize(t.ReadBufferSize))
	c.bw = bufio.NewWriterSize(&c.cw, bufSize(t.WriteBufferSize))
	return c, nil
}

func (c *conn) handshake(ctx context.Context, host string) error {
	cfg := &tls.Config{}
	if c.t.TLSClientConfig != nil {
		cfg = c.t.TLSClientConfig.Clone()
	}
	if cfg.ServerName == "" {
		cfg.ServerName = host
	}
	cfg.NextProtos = []string{"http/1.1"}
	if c.t.TLSHandshakeTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.t.TLSHandshakeTimeout)
		defer cancel()
	}
	tc := tls.Client(c.raw, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
			return &timeoutError{"h1transport: TLS handshake timeout"}
		}
		return err
	}
	st := tc.ConnectionState()
	c.nc, c.state = tc, &st
	return nil
}

// roundTrip writes req, reads the response head, and returns the
// response whose body gives the connection back when done.
func (c *conn) roundTrip(req *http.Request, r route) (*http.Response, error) {
	ctx := req.Context()
	stop := func() bool { return true }
	if ctx.Done() != nil {
		// Cancelling closes the connection: that ends a blocked write or
		// read on it, here or in the body's reader.
		stop = context.AfterFunc(ctx, c.close)
	}
	c.cw.n = 0
	if err := c.write(req, r); err != nil {
		stop()
		c.close()
		return nil, failed(ctx, err, c.cw.n > 0, false)
	}
	if d := c.t.ResponseHeaderTimeout; d > 0 {
		c.nc.SetReadDeadline(time.Now().Add(d))
	}
	resp, got, err := c.readHead(req)
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() && ctx.Err() == nil {
			err = &timeoutError{"h1transport: timeout awaiting response headers"}
		}
		stop()
		c.close()
		return nil, failed(ctx, err, true, got)
	}
	if c.t.ResponseHeaderTimeout > 0 {
		c.nc.SetReadDeadline(time.Time{})
	}
	resp.TLS = c.state
	keep := !resp.Close && !req.Close
	if resp.Body == http.NoBody {
		c.done(stop, keep)
		return resp, nil
	}
	b := &body{rc: resp.Body, c: c, stop: stop, keep: keep} // nil rc: readConn
	b.left.Store(resp.ContentLength)
	resp.Body = b
	return resp, nil
}

// failed is a round trip's error; a cancelled one names the context's
// error, which closed the connection under it.
func failed(ctx context.Context, err error, written, got bool) error {
	if ctx.Err() != nil {
		err = fmt.Errorf("%w (%w)", ctx.Err(), err)
	}
	return &roundTripError{err: err, written: written, gotResponse: got}
}

// write sends the request line, headers and body in one flush when they
// fit the buffer.
func (c *conn) write(req *http.Request, r route) error {
	var err error
	if r.proxy != nil {
		if u := r.proxy.User; u != nil {
			req = withProxyAuth(req, u)
		}
		err = req.WriteProxy(c.bw)
	} else {
		err = req.Write(c.bw)
	}
	if err != nil {
		return err
	}
	return c.bw.Flush()
}

// readHead reads the final response head, skipping 1xx interim answers;
// got reports whether any byte of an answer arrived.
func (c *conn) readHead(req *http.Request) (resp *http.Response, got bool, err error) {
	limit := c.t.maxHeader()
	c.lr.n = limit
	defer func() { c.lr.n = math.MaxInt64 }()
	for {
		resp := c.head.read(c.br, req)
		if resp == nil {
			resp, err = http.ReadResponse(c.br, req)
		}
		got = c.lr.n < limit
		if err != nil {
			if c.lr.n <= 0 {
				err = fmt.Errorf("h1transport: response head over %d bytes", limit)
			}
			return nil, got, err
		}
		switch {
		case resp.StatusCode == http.StatusSwitchingProtocols:
			return nil, true, errors.New("h1transport: upstream switched protocols (101), which this transport does not carry")
		case resp.StatusCode >= 100 && resp.StatusCode < 200:
			continue
		}
		return resp, true, nil
	}
}

// done ends a round trip whose body is finished: the connection goes
// back to the pool when it may be reused and no cancellation claimed it.
func (c *conn) done(stop func() bool, keep bool) {
	if stop() && keep && c.br.Buffered() == 0 {
		c.t.pool.put(c.t, c)
		return
	}
	c.close()
}

func (c *conn) close() { c.nc.Close() }

func bufSize(n int) int {
	if n > 0 {
		return n
	}
	return 4 << 10
}

// limitReader fails reads past n bytes: it bounds the response head.
// A read error sticks: the fast head's Peek takes bufio's error, and
// http.ReadResponse after it must see the same one.
type limitReader struct {
	r   io.Reader
	n   int64
	err error
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.err != nil {
		return 0, l.err
	}
	if l.n <= 0 {
		return 0, errHeaderTooLarge
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	l.err = err
	return n, err
}

var errHeaderTooLarge = errors.New("h1transport: response head too large")

// countWriter counts the bytes written to the connection, to tell a
// request the server may have seen from one it cannot have.
type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
