package core

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"sync"
)

// Transport returns an http.RoundTripper that runs each provider call made
// through it in the engine, so an official SDK is tracked and governed by
// passing it as the SDK's HTTP client transport. The request still goes to
// the URL the SDK chose, with the SDK's own credentials; the customer and
// metadata come from the request's context ([WithCustomer], [WithMetadata]).
// Requests for paths the engine does not know are passed through untracked,
// and the first such request to each host is logged as a warning.
// A key the client sends in the query (Gemini's ?key=) goes only to the
// upstream, never to stages or usage events.
func (e *Engine) Transport() http.RoundTripper { return &transport{e: e} }

type transport struct {
	e      *Engine
	warned sync.Map // hosts an untracked request was logged for
}

func (t *transport) RoundTrip(r *http.Request) (*http.Response, error) {
	e := t.e
	f, op, ok := e.match(r.Method, r.URL.Path, r.Header)
	if !ok {
		t.warnUntracked(r)
		return e.passthrough.RoundTrip(r)
	}
	body, err := readBody(r, e.maxBodyBytes)
	if err != nil {
		return errorResponse(r, f, "", err), nil
	}
	req := &Request{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Body: body, Format: f, Operation: op}
	ctx := r.Context()
	if err := e.prepareDirect(ctx, req, r); err != nil {
		e.finishEarly(ctx, req, err)
		return errorResponse(r, f, req.ID, err), nil
	}
	resp, err := e.serve(ctx, req)
	if err != nil {
		if errors.Is(err, ErrUnreachable) || errors.Is(err, ErrClientGone) {
			return nil, err // as the SDK would have seen it without tollgate
		}
		return errorResponse(r, f, req.ID, err), nil
	}
	hr := newResponse(r, resp.Status, make(http.Header, len(resp.Header)+1))
	copyResponseHeader(hr.Header, resp.Header)
	hr.Header.Set("X-Tollgate-Id", req.ID)
	if resp.Stream != nil {
		hr.Body = &streamReader{s: resp.Stream}
	} else {
		hr.Body = io.NopCloser(bytes.NewReader(resp.Body))
		hr.ContentLength = int64(len(resp.Body))
	}
	return hr, nil
}

// warnUntracked logs the first request to a host that passes through
// untracked: an SDK whose base URL puts the provider's paths under another
// prefix (OpenRouter's /api/v1) or speaks a format tollgate does not (Vertex
// AI) would otherwise make calls nobody meters, without a word.
func (t *transport) warnUntracked(r *http.Request) {
	if _, seen := t.warned.LoadOrStore(r.URL.Host, true); seen {
		return
	}
	t.e.log.Warn("a request through tollgate's transport is passed on untracked: no wire format tollgate speaks serves its path, "+
		"so no stage sees it and no usage is recorded (later ones to this host are not logged)",
		"method", clip(r.Method, 32), "host", clip(r.URL.Host, 256), "path", clip(r.URL.Path, 256))
}

// prepareDirect prepares a transport request: it goes to the URL the client
// chose, with the client's own credentials.
func (e *Engine) prepareDirect(ctx context.Context, req *Request, r *http.Request) error {
	u := &Upstream{Name: r.URL.Host, Format: req.Format.Name(), direct: true,
		BaseURL: &url.URL{Scheme: r.URL.Scheme, Host: r.URL.Host, User: r.URL.User}}
	// A key in the query goes to the upstream the client chose, and nowhere
	// else.
	req.RawQuery, u.queryKey = stripCredentialQuery(req.RawQuery)
	for k := range credentialHeaders {
		if v, ok := r.Header[k]; ok {
			if u.credentials == nil {
				u.credentials = make(http.Header, 1)
			}
			u.credentials[k] = v
		}
	}
	req.Upstream = u
	return e.prepare(ctx, req, r.Header)
}

// errorResponse renders err as the provider would have answered it, so the
// SDK raises its usual API error.
func errorResponse(r *http.Request, f Format, id string, err error) *http.Response {
	e := AsError(err)
	body := errorBody(f, e)
	h := make(http.Header, len(e.Header)+2)
	setErrorHeader(h, e, id)
	hr := newResponse(r, e.HTTPStatus(), h)
	hr.Body, hr.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
	return hr
}

// newResponse is the skeleton of an answer handed back to the client's SDK.
func newResponse(r *http.Request, status int, h http.Header) *http.Response {
	return &http.Response{
		StatusCode: status, Status: strconv.Itoa(status) + " " + http.StatusText(status),
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Header: h, Request: r, ContentLength: -1,
	}
}

// streamReader turns a stream back into the bytes of its events.
type streamReader struct {
	s   Stream
	buf []byte
	err error
}

func (sr *streamReader) Read(p []byte) (int, error) {
	for len(sr.buf) == 0 {
		if sr.err != nil {
			return 0, sr.err
		}
		ev, err := sr.s.Next()
		if errors.Is(err, ErrDenied) {
			err = io.EOF // a stage ended the stream with its own closing event
		}
		if err != nil {
			sr.err = err
			continue
		}
		sr.buf = ev.Raw
	}
	n := copy(p, sr.buf)
	sr.buf = sr.buf[n:]
	return n, nil
}

func (sr *streamReader) Close() error { return sr.s.Close() }
