package core

import (
	"errors"
	"io"
	"net/http"
	"os"
	"strconv"
)

// Handler returns the engine as an http.Handler that speaks each provider's
// own wire format, e.g. POST /v1/chat/completions. Mount it in your own
// server or let the host binary serve it.
func (e *Engine) Handler() http.Handler { return http.HandlerFunc(e.serveHTTP) }

func (e *Engine) serveHTTP(w http.ResponseWriter, r *http.Request) {
	rt, ok := e.route(r.Method, r.URL.Path, r.Header)
	if !ok {
		writeError(w, nil, "", unknownEndpoint(r.Method, r.URL.Path))
		return
	}
	f := rt.format
	req := &Request{Method: r.Method, Path: rt.path, RawQuery: r.URL.RawQuery, Format: f, Operation: rt.op, Upstream: rt.upstream}
	body, err := readBody(r, e.maxBodyBytes)
	if err != nil {
		writeError(w, f, "", err)
		return
	}
	req.Body = body
	ctx := r.Context()
	if err := e.prepare(ctx, req, r.Header); err != nil {
		e.finishEarly(ctx, req, err)
		writeError(w, f, req.ID, err)
		return
	}
	resp, err := e.serve(ctx, req)
	if err != nil {
		writeError(w, f, req.ID, err)
		return
	}
	h := w.Header()
	copyResponseHeader(h, resp.Header)
	vals := req.answerHeader[:]
	vals[0] = req.ID
	h["X-Tollgate-Id"] = vals[0:1:1]
	if resp.Stream == nil {
		vals[1] = strconv.Itoa(len(resp.Body))
		h["Content-Length"] = vals[1:2:2]
		w.WriteHeader(resp.Status)
		w.Write(resp.Body)
		return
	}
	writeStream(w, resp)
}

// writeStream passes events to the client as they arrive, flushing each. A
// client that goes away closes the stream, which cancels the upstream call.
// A stream that breaks upstream is cut off here too, so the client sees a
// truncated response rather than a clean end.
func writeStream(w http.ResponseWriter, resp *Response) {
	s := resp.Stream
	defer s.Close()
	rc := http.NewResponseController(w)
	w.WriteHeader(resp.Status)
	rc.Flush()
	for {
		ev, err := s.Next()
		if err == io.EOF {
			return
		}
		if errors.Is(err, ErrDenied) {
			return // a stage ended the stream with its own closing event
		}
		if err != nil {
			s.Close()
			panic(http.ErrAbortHandler)
		}
		if _, err := w.Write(ev.Raw); err != nil {
			return
		}
		if err := rc.Flush(); err != nil {
			return
		}
	}
}

// readBody reads the request body up to limit bytes.
func readBody(r *http.Request, limit int64) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	defer r.Body.Close()
	if r.ContentLength > limit {
		return nil, tooLarge(limit)
	}
	if r.ContentLength >= 0 {
		b := make([]byte, r.ContentLength)
		if _, err := io.ReadFull(r.Body, b); err != nil {
			return nil, bodyError(err)
		}
		return b, nil
	}
	b, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, limit))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, tooLarge(limit)
	}
	if err != nil {
		return nil, bodyError(err)
	}
	return b, nil
}

// bodyError is a failed body read: 408 when a read deadline cut it (the
// host's server.read_body_timeout), else 400.
func bodyError(err error) *Error {
	e := Errorf(KindValidation, "bad_body", "reading the request body: %v", err)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		e.Status, e.Code = http.StatusRequestTimeout, "body_timeout"
	}
	return e
}

func tooLarge(limit int64) *Error {
	return Errorf(KindTooLarge, "request_too_large", "the request body is over the limit of %d bytes", limit)
}

// writeError answers with err in the provider's error shape; an upstream
// error is passed through as the provider sent it.
func writeError(w http.ResponseWriter, f Format, id string, err error) {
	e := AsError(err)
	h := w.Header()
	setErrorHeader(h, e, id)
	if e.Kind == KindClientGone {
		return // nobody is listening
	}
	body := errorBody(f, e)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(e.HTTPStatus())
	w.Write(body)
}

// setErrorHeader sets the headers of an error answer: the error's own
// (Retry-After, the provider's), a JSON content type unless the provider's
// body says otherwise, and the call's id. The host and the transport share it.
func setErrorHeader(h http.Header, e *Error, id string) {
	for k, v := range e.Header {
		h[k] = v
	}
	if h.Get("Content-Type") == "" || len(e.Body) == 0 {
		h.Set("Content-Type", "application/json")
	}
	if id != "" {
		h.Set("X-Tollgate-Id", id)
	}
}

// errorBody is the provider's own body for an upstream error, else e in the
// format's shape (OpenAI's when the format is unknown).
func errorBody(f Format, e *Error) []byte {
	if len(e.Body) > 0 {
		return e.Body
	}
	if f == nil {
		return genericErrorBody(e)
	}
	return f.ErrorBody(e)
}

// genericErrorBody renders e in OpenAI's error shape, the one most clients
// understand.
func genericErrorBody(e *Error) []byte {
	b := []byte(`{"error":{"message":`)
	b = AppendJSONString(b, e.Error())
	b = append(b, `,"type":`...)
	b = AppendJSONString(b, e.Kind.String()+"_error")
	b = append(b, `,"code":`...)
	b = AppendJSONString(b, e.Code)
	return append(b, "}}"...)
}
