package h1transport

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"
)

// Transport is an http.RoundTripper for HTTP/1.1 with a keep-alive pool,
// whose round trips do their I/O on the calling goroutine (see the package
// doc). A response body must be read to its end or closed: reading it to
// the end returns the connection to the pool, closing it early closes the
// connection.
//
// Cancelling the request's context closes the connection, whether the
// round trip is still waiting for the response headers or the body is
// being read.
//
// A Transport is safe for concurrent use; it does not modify the request.
// Its fields must not change after the first RoundTrip.
type Transport struct {
	// DialContext dials TCP connections (to the upstream or the proxy);
	// nil uses a net.Dialer with no timeout of its own.
	DialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// TLSClientConfig configures TLS to https upstreams; ServerName and
	// NextProtos are set per connection.
	TLSClientConfig *tls.Config
	// TLSHandshakeTimeout bounds a TLS handshake; 0 means no bound beyond
	// the request's context.
	TLSHandshakeTimeout time.Duration
	// ResponseHeaderTimeout bounds the wait for the response headers once
	// the request is written; 0 means none. Past it the round trip fails
	// with an error whose Timeout method reports true.
	ResponseHeaderTimeout time.Duration
	// IdleConnTimeout closes pooled connections idle this long; 0 keeps
	// them until the server closes them.
	IdleConnTimeout time.Duration
	// MaxIdleConnsPerHost bounds the pool per host; 0 means 2, as in
	// net/http.
	MaxIdleConnsPerHost int
	// MaxResponseHeaderBytes bounds the response head; 0 means 1 MiB.
	MaxResponseHeaderBytes int64
	// ReadBufferSize and WriteBufferSize size each connection's buffers;
	// 0 means 4 KiB.
	ReadBufferSize, WriteBufferSize int
	// Proxy returns the proxy for a request, or nil for none (e.g.
	// http.ProxyFromEnvironment). A plain-http upstream through an http
	// proxy is sent by this transport; any other proxied request goes to
	// Fallback.
	Proxy func(*http.Request) (*url.URL, error)
	// Fallback carries what this transport does not (see the package
	// doc). Without one such requests fail with ErrUnsupported.
	Fallback http.RoundTripper

	pool pool
}

// ErrUnsupported is returned for a request the transport cannot send and
// has no Fallback for.
var ErrUnsupported = errors.New("h1transport: request needs a feature this transport lacks and no fallback is set")

// RoundTrip sends req and returns its response. See Transport.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL == nil || req.URL.Host == "" {
		closeBody(req)
		return nil, errors.New("h1transport: request has no URL host")
	}
	route, ok, err := t.route(req)
	if err != nil {
		closeBody(req)
		return nil, err
	}
	if !ok {
		if t.Fallback == nil {
			closeBody(req)
			return nil, ErrUnsupported
		}
		return t.Fallback.RoundTrip(req)
	}
	ctx := req.Context()
	for {
		c, reused, err := t.conn(ctx, route)
		if err != nil {
			closeBody(req)
			return nil, err
		}
		resp, err := c.roundTrip(req, route)
		if err == nil {
			return resp, nil
		}
		if !reused || !retryable(req, err) || ctx.Err() != nil {
			closeBody(req)
			return nil, err
		}
		// A pooled connection the server had closed: send it again on
		// another, as net/http does, with a fresh body.
		if req, err = rewind(req); err != nil {
			return nil, err
		}
	}
}

// route says where a request's connection goes; ok is false for what the
// fallback carries.
func (t *Transport) route(req *http.Request) (r route, ok bool, err error) {
	switch req.URL.Scheme {
	case "http", "https":
	default:
		return r, false, nil
	}
	if req.Header.Get("Expect") != "" || req.Header.Get("Upgrade") != "" || !req.ProtoAtLeast(1, 0) || req.ProtoMajor > 1 {
		return r, false, nil
	}
	r = route{tls: req.URL.Scheme == "https", host: req.URL.Hostname(), addr: hostPort(req.URL)}
	if t.Proxy != nil {
		p, err := t.Proxy(req)
		if err != nil {
			return r, false, fmt.Errorf("h1transport: choosing a proxy: %w", err)
		}
		if p != nil {
			if r.tls || p.Scheme != "http" {
				return r, false, nil // a CONNECT tunnel or SOCKS: net/http does these
			}
			r.proxy = p
			r.addr = hostPort(p)
		}
	}
	r.key = r.addr
	if r.tls {
		r.key = "tls|" + r.addr
	} else if r.proxy != nil {
		r.key = "proxy|" + r.proxy.String()
	}
	return r, true, nil
}

// route is where a request's connection goes and the pool key for it.
type route struct {
	key   string
	addr  string // host:port dialed
	host  string // the upstream's host name, for TLS
	tls   bool
	proxy *url.URL // a forward proxy for a plain-http upstream
}

// CloseIdleConnections closes the pooled connections, and the fallback's.
func (t *Transport) CloseIdleConnections() {
	t.pool.closeIdle()
	if ci, ok := t.Fallback.(interface{ CloseIdleConnections() }); ok {
		ci.CloseIdleConnections()
	}
}

func (t *Transport) maxIdle() int {
	if t.MaxIdleConnsPerHost > 0 {
		return t.MaxIdleConnsPerHost
	}
	return 2
}

func (t *Transport) maxHeader() int64 {
	if t.MaxResponseHeaderBytes > 0 {
		return t.MaxResponseHeaderBytes
	}
	return 1 << 20
}

func hostPort(u *url.URL) string {
	if port := u.Port(); port != "" {
		return net.JoinHostPort(u.Hostname(), port)
	}
	if u.Scheme == "https" {
		return net.JoinHostPort(u.Hostname(), "443")
	}
	return net.JoinHostPort(u.Hostname(), "80")
}

// retryable reports whether a failed round trip on a pooled connection
// may be sent again: when the request was not written (the server cannot
// have acted on it), or when it is idempotent and no answer came — the
// rules net/http's Transport follows.
func retryable(req *http.Request, err error) bool {
	var rt *roundTripError
	if !errors.As(err, &rt) || rt.gotResponse {
		return false
	}
	if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
		return false
	}
	if !rt.written {
		return true
	}
	switch req.Method {
	case "GET", "HEAD", "OPTIONS", "TRACE":
		return true
	}
	return req.Header.Get("Idempotency-Key") != "" || req.Header.Get("X-Idempotency-Key") != ""
}

// rewind returns req with a fresh body for a second attempt.
func rewind(req *http.Request) (*http.Request, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return req, nil
	}
	body, err := req.GetBody()
	if err != nil {
		return nil, fmt.Errorf("h1transport: rewinding the request body for a retry: %w", err)
	}
	r := *req
	r.Body = body
	return &r, nil
}

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

var _ http.RoundTripper = (*Transport)(nil)
