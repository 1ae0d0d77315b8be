package h1server

import (
	"bufio"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
)

// commit writes the response head into the connection's writer, framing
// the body as net/http's chunkWriter.writeHeader does; p is the body's
// first bytes (all of it when the handler has returned).
func (w *response) commit(p []byte) {
	w.committed = true
	w.disableContinue()
	c := w.c
	keepAlives := !c.srv.shuttingDown()
	header := w.handlerHeader
	if w.snapshot != nil {
		header = w.snapshot
	}
	// The handler's map is left as it is: what the head leaves out is
	// excluded while writing it.
	var exclude map[string]bool
	del := func(key string) {
		if _, ok := header[key]; !ok {
			return
		}
		if exclude == nil {
			exclude = make(map[string]bool)
		}
		exclude[key] = true
	}
	extra := extraHeader{contentLength: -1}

	trailers := false
	for k := range header {
		if strings.HasPrefix(k, http.TrailerPrefix) {
			del(k)
			trailers = true
		}
	}
	for _, v := range header["Trailer"] {
		trailers = true
		for _, f := range strings.Split(v, ",") {
			if f = textproto.TrimString(f); f != "" {
				w.trailers = append(w.trailers, http.CanonicalHeaderKey(f))
			}
		}
	}

	te := header.Get("Transfer-Encoding")
	hasTE := te != ""
	// A handler that ended before filling the pending buffer gets a
	// Content-Length; a HEAD handler that wrote nothing may not know it.
	if w.handlerDone && !trailers && !hasTE && bodyAllowedForStatus(w.status) && header.Get("Content-Length") == "" && (!w.isHEAD || len(p) > 0) {
		w.contentLength = int64(len(p))
		extra.contentLength = int64(len(p))
	}
	if w.wants10KeepAlive && keepAlives {
		if header.Get("Content-Length") != "" && header.Get("Connection") == "keep-alive" {
			w.closeAfterReply = false
		}
	}
	hasCL := w.contentLength != -1
	if w.wants10KeepAlive && (w.isHEAD || hasCL || !bodyAllowedForStatus(w.status)) {
		if _, set := header["Connection"]; !set {
			extra.connection = "keep-alive"
		}
	} else if !w.req.ProtoAtLeast(1, 1) || w.wantsClose {
		w.closeAfterReply = true
	}
	if header.Get("Connection") == "close" || !keepAlives {
		w.closeAfterReply = true
	}
	// A client that asked for 100 Continue may or may not send the rest
	// of its body: the connection cannot carry another request.
	if w.body != nil && w.body.unsentAfterExpect() {
		w.closeAfterReply = true
	}
	// Read what the handler left of the body now, as net/http does: a
	// client that sends all of it before reading the answer would
	// otherwise stall.
	if w.req.ContentLength != 0 && !w.closeAfterReply && w.body != nil && !w.body.drain() {
		w.requestBodyLimitHit = true
		w.closeAfterReply = true
		del("Connection")
		extra.connection = "close"
	}

	code := w.status
	if bodyAllowedForStatus(code) {
		_, haveType := header["Content-Type"]
		if header.Get("Content-Encoding") == "" && !haveType && !hasTE && len(p) > 0 {
			extra.contentType = http.DetectContentType(p)
		}
	} else {
		for _, k := range suppressedHeaders(code) {
			del(k)
		}
	}
	if _, ok := header["Date"]; !ok {
		extra.date = true
	}
	if hasCL && hasTE && te != "identity" {
		w.c.srv.logf("http: WriteHeader called with both Transfer-Encoding of %q and a Content-Length of %d", te, w.contentLength)
		del("Content-Length")
		hasCL = false
	}

	switch {
	case w.isHEAD || !bodyAllowedForStatus(code) || code == http.StatusNoContent:
		del("Transfer-Encoding")
	case hasCL:
		del("Transfer-Encoding")
	case w.req.ProtoAtLeast(1, 1):
		if hasTE && te == "identity" {
			// Server-Sent Events' old advice: no chunking, close at the end.
			w.chunking = false
			w.closeAfterReply = true
			del("Transfer-Encoding")
		} else {
			w.chunking = true
			extra.transferEncoding = "chunked"
			if hasTE && te == "chunked" {
				del("Transfer-Encoding")
			}
		}
	default:
		// HTTP/1.0 with no length: the end of the body is the close.
		w.closeAfterReply = true
		del("Transfer-Encoding")
	}
	if w.chunking {
		del("Content-Length")
	}
	if w.closeAfterReply && (!keepAlives || !hasToken(header.Get("Connection"), "close")) && !isProtocolSwitch(code, header) {
		del("Connection")
		if w.req.ProtoAtLeast(1, 1) {
			extra.connection = "close"
		}
	}

	bw := c.bw
	writeStatusLine(bw, w.req.ProtoAtLeast(1, 1), code)
	header.WriteSubset(bw, exclude)
	extra.write(bw)
	bw.WriteString("\r\n")
}

// writeTrailers ends a chunked body with the trailers the handler
// declared.
func (w *response) writeTrailers() {
	bw := w.c.bw
	bw.WriteString("0\r\n")
	if len(w.trailers) > 0 || w.hasPrefixedTrailers() {
		t := make(http.Header)
		for _, k := range w.trailers {
			if vv, ok := w.handlerHeader[k]; ok {
				t[k] = vv
			}
		}
		for k, vv := range w.handlerHeader {
			if strings.HasPrefix(k, http.TrailerPrefix) {
				t[strings.TrimPrefix(k, http.TrailerPrefix)] = vv
			}
		}
		t.Write(bw)
	}
	bw.WriteString("\r\n")
}

func (w *response) hasPrefixedTrailers() bool {
	for k := range w.handlerHeader {
		if strings.HasPrefix(k, http.TrailerPrefix) {
			return true
		}
	}
	return false
}

// extraHeader holds the headers the server adds to the handler's,
// without allocating a map for them. Numbers and the date are appended
// to the writer's free buffer: a byte slice of the head itself would
// escape through bufio.Writer.Write.
type extraHeader struct {
	contentType      string
	connection       string
	transferEncoding string
	date             bool
	contentLength    int64 // -1: none
}

func (h *extraHeader) write(bw *bufio.Writer) {
	for _, kv := range [...]struct{ k, v string }{
		{"Content-Type", h.contentType},
		{"Connection", h.connection},
		{"Transfer-Encoding", h.transferEncoding},
	} {
		if kv.v != "" {
			bw.WriteString(kv.k)
			bw.WriteString(": ")
			bw.WriteString(kv.v)
			bw.WriteString("\r\n")
		}
	}
	b := bw.AvailableBuffer()
	if h.date {
		b = append(b, "Date: "...)
		b = appendDate(b)
		b = append(b, "\r\n"...)
	}
	if h.contentLength >= 0 {
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, h.contentLength, 10)
		b = append(b, "\r\n"...)
	}
	bw.Write(b)
}

func writeStatusLine(bw *bufio.Writer, is11 bool, code int) {
	if is11 {
		bw.WriteString("HTTP/1.1 ")
	} else {
		bw.WriteString("HTTP/1.0 ")
	}
	if text := http.StatusText(code); text != "" {
		b := strconv.AppendInt(bw.AvailableBuffer(), int64(code), 10)
		bw.Write(append(b, ' '))
		bw.WriteString(text)
		bw.WriteString("\r\n")
		return
	}
	c := strconv.Itoa(code)
	bw.WriteString(c + " status code " + c + "\r\n")
}

func bodyAllowedForStatus(status int) bool {
	switch {
	case status >= 100 && status <= 199:
		return false
	case status == http.StatusNoContent, status == http.StatusNotModified:
		return false
	}
	return true
}

func suppressedHeaders(status int) []string {
	switch {
	case status == http.StatusNotModified:
		return []string{"Content-Type", "Content-Length", "Transfer-Encoding"}
	case !bodyAllowedForStatus(status):
		return []string{"Content-Length", "Transfer-Encoding"}
	}
	return nil
}

var excludedHeadersNoBody = map[string]bool{"Content-Length": true, "Transfer-Encoding": true}

func isProtocolSwitch(code int, h http.Header) bool {
	return code == http.StatusSwitchingProtocols && h.Get("Upgrade") != ""
}

func expectsContinue(r *http.Request) bool {
	return hasToken(r.Header.Get("Expect"), "100-continue")
}

func wants10KeepAlive(r *http.Request) bool {
	return r.ProtoMajor == 1 && r.ProtoMinor == 0 && hasToken(r.Header.Get("Connection"), "keep-alive")
}

// hasToken reports whether the comma-separated list v holds token,
// ignoring case.
func hasToken(v, token string) bool {
	for f := range strings.SplitSeq(v, ",") {
		if strings.EqualFold(textproto.TrimString(f), token) {
			return true
		}
	}
	return false
}
