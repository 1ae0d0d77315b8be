package h1transport

import (
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
)

// roundTripError is a failed round trip on one connection, with what the
// retry rules need to know.
type roundTripError struct {
	err         error
	written     bool // some of the request reached the connection
	gotResponse bool // some of an answer came back
}

func (e *roundTripError) Error() string { return e.err.Error() }
func (e *roundTripError) Unwrap() error { return e.err }

// timeoutError is a net.Error whose Timeout reports true, as net/http's
// own timeouts are.
type timeoutError struct{ msg string }

func (e *timeoutError) Error() string   { return e.msg }
func (e *timeoutError) Timeout() bool   { return true }
func (e *timeoutError) Temporary() bool { return true }

// withProxyAuth returns a copy of req that carries the proxy's
// credentials (req itself is not modified).
func withProxyAuth(req *http.Request, u *url.Userinfo) *http.Request {
	r := *req
	r.Header = req.Header.Clone()
	if r.Header == nil {
		r.Header = make(http.Header)
	}
	pw, _ := u.Password()
	r.Header.Set("Proxy-Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(u.Username()+":"+pw)))
	return &r
}

// GotAnswer reports whether err is a round trip that failed after bytes
// of an answer had arrived: the upstream was reached and took the request,
// and what it sent back could not be read (a malformed or oversized head,
// or a connection that broke in the middle of it).
func GotAnswer(err error) bool {
	var e *roundTripError
	return errors.As(err, &e) && e.gotResponse
}
