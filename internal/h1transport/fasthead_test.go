package h1transport

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"reflect"
	"testing"
	"testing/iotest"
	"unsafe"
)

// headSeeds are answers the fast path takes (fast) or leaves to
// net/http, to a GET or (head) a HEAD request.
var headSeeds = []struct {
	raw  string
	head bool
	fast bool
}{
	{"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}", false, true},
	{"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab", false, true}, // cut short
	{"HTTP/1.1 200\r\nContent-Length: 0\r\n\r\nHTTP/1.1 204 \r\n\r\n", false, true},
	{"HTTP/1.1 200 OK\r\n\r\nto the end", false, true},
	{"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na", false, true},
	{"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\n\r\n", false, true},
	{"HTTP/1.1 204 No Content\r\nContent-Length: 3\r\n\r\nabc", false, true},
	{"HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n", false, true},
	{"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n", true, true},
	{"HTTP/1.1 200 OK\r\n\r\n", true, true},
	{"HTTP/1.1 200 OK\r\nconnection: Keep-Alive, CLOSE\r\nContent-Length: 1\r\n\r\nab", false, true},
	{"HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\na", false, true},
	{"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\na", false, true},
	{"HTTP/1.0 200 OK\r\nConnection: close, keep-alive\r\n\r\nrest", false, true},
	{"HTTP/1.1 200 OK\r\nx-dup: 1\r\nX-Dup: 2\r\nX-Blank:\r\nX-Pad: \t v \t\r\nX: \x80\xff\r\n\r\n", true, true},
	{"HTTP/1.1 000 zero\r\nContent-Length: 007\r\n\r\n1234567", false, true},
	{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-T\r\n\r\n1\r\na\r\n0\r\nX-T: v\r\n\r\n", false, false},
	{"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\na", false, false},
	{"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n", false, false},
	{"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", false, false},
	{"HTTP/1.1 200 OK\r\nPragma: no-cache\r\n\r\n", false, false},
	{"HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n", false, false},
	{"HTTP/1.1 200 OK\nContent-Length: 0\n\n", false, false},
	{"HTTP/1.1  200 OK\r\n\r\n", false, false},
	{"HTTP/1.1 2000 OK\r\n\r\n", false, false},
	{"HTTP/1.1 +20 OK\r\n\r\n", false, false},
	{"HTTP/2.0 200 OK\r\n\r\n", false, false},
	{"HTTP/1.1 200 O\x01K\r\n\r\n", false, false},
	{"HELLO WORLD\r\n\r\n", false, false},
	{"HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n", false, false},
	{"", false, false},
}

// FuzzFastHead checks the fast head parser against http.ReadResponse:
// what it takes must read exactly as net/http reads it, body included,
// and what it leaves must be left unread. Two answers go through one
// parser, so the second reuses the first's strings.
func FuzzFastHead(f *testing.F) {
	for _, a := range headSeeds {
		for _, b := range headSeeds[:4] {
			f.Add([]byte(a.raw), []byte(b.raw), a.head)
		}
	}
	f.Fuzz(func(t *testing.T, a, b []byte, head bool) {
		var p headParser
		compareHead(t, &p, a, head, true)
		compareHead(t, &p, b, !head, false)
	})
}

// TestFastHeadSeeds runs the fuzz seeds through the comparison in every
// test run, and checks the common answers take the fast path.
func TestFastHeadSeeds(t *testing.T) {
	var p headParser
	for i, s := range headSeeds {
		if fast := compareHead(t, &p, []byte(s.raw), s.head, i%2 == 0); fast != s.fast {
			t.Errorf("%q: fast = %v, want %v", s.raw, fast, s.fast)
		}
	}
}

func compareHead(t *testing.T, p *headParser, raw []byte, head, oneByte bool) (fast bool) {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://x/", nil)
	if head {
		req.Method = "HEAD"
	}
	var r io.Reader = bytes.NewReader(raw)
	if oneByte {
		r = iotest.OneByteReader(r) // the head arrives in pieces
	}
	br := bufio.NewReaderSize(r, 4096)
	got := p.read(br, req)
	wbr := bufio.NewReaderSize(bytes.NewReader(raw), 4096)
	want, err := http.ReadResponse(wbr, req)
	if got == nil {
		if rest, _ := io.ReadAll(br); !bytes.Equal(rest, raw) {
			t.Fatalf("%q: left to net/http with %q consumed", raw, raw[:len(raw)-len(rest)])
		}
		return false
	}
	if err != nil {
		t.Fatalf("%q: fast head read it, http.ReadResponse: %v", raw, err)
	}
	gotBody, gotEnd := readFastBody(t, got, br)
	wantBody, wantEnd := readAll(want.Body)
	gotRest, _ := io.ReadAll(br)
	wantRest, _ := io.ReadAll(wbr)
	for _, c := range []struct {
		name      string
		got, want any
	}{
		{"Status", got.Status, want.Status},
		{"StatusCode", got.StatusCode, want.StatusCode},
		{"Proto", got.Proto, want.Proto},
		{"ProtoMajor", got.ProtoMajor, want.ProtoMajor},
		{"ProtoMinor", got.ProtoMinor, want.ProtoMinor},
		{"Header", got.Header, want.Header},
		{"ContentLength", got.ContentLength, want.ContentLength},
		{"TransferEncoding", got.TransferEncoding, want.TransferEncoding},
		{"Close", got.Close, want.Close},
		{"Trailer", got.Trailer, want.Trailer},
		{"Request", got.Request, want.Request},
		{"no body", got.Body == http.NoBody, want.Body == http.NoBody},
		{"body", string(gotBody), string(wantBody)},
		{"body end", gotEnd, wantEnd},
		{"rest", string(gotRest), string(wantRest)},
	} {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%q: %s = %#v, net/http's %#v", raw, c.name, c.got, c.want)
		}
	}
	return true
}

// readFastBody reads a fast response's body as the transport does: with
// body.readConn on a connection reading br.
func readFastBody(t *testing.T, resp *http.Response, br *bufio.Reader) ([]byte, string) {
	t.Helper()
	if resp.Body == http.NoBody {
		return readAll(resp.Body)
	}
	if resp.Body != nil {
		t.Fatalf("fast response with a body reader %T", resp.Body)
	}
	nc, peer := net.Pipe()
	defer peer.Close()
	b := &body{c: &conn{t: &Transport{}, nc: nc, br: br}, stop: func() bool { return true }}
	b.left.Store(resp.ContentLength)
	defer b.Close()
	return readAll(b)
}

// readAll reads r in small pieces to its error, and says what the error
// was and whether it came with the last bytes (as the transport wants:
// a Content-Length body's io.EOF gives the connection back at once).
func readAll(r io.Reader) ([]byte, string) {
	var b []byte
	buf := make([]byte, 3)
	for {
		n, err := r.Read(buf)
		b = append(b, buf[:n]...)
		if err != nil {
			return b, fmt.Sprintf("%v with data %v", err, n > 0)
		}
	}
}

// TestFastHeadReusesStrings checks a second answer with the same header
// bytes shares the first's strings, and a changed value does not.
func TestFastHeadReusesStrings(t *testing.T) {
	var p headParser
	read := func(raw string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("GET", "http://x/", nil)
		resp := p.read(bufio.NewReader(bytes.NewReader([]byte(raw))), req)
		if resp == nil {
			t.Fatalf("%q was not read by the fast path", raw)
		}
		return resp
	}
	head := "HTTP/1.1 429 Too Many Requests\r\nX-Custom-Key: secret\r\nX-Trace: %s\r\n\r\n"
	a := read(fmt.Sprintf(head, "1"))
	b := read(fmt.Sprintf(head, "2"))
	same := func(x, y string) bool { return unsafe.StringData(x) == unsafe.StringData(y) }
	if !same(a.Header.Get("X-Custom-Key"), b.Header.Get("X-Custom-Key")) || !same(a.Status, b.Status) {
		t.Error("equal values were copied again")
	}
	if b.Header.Get("X-Trace") != "2" || same(a.Header.Get("X-Trace"), b.Header.Get("X-Trace")) {
		t.Errorf("changed value: %q", b.Header.Get("X-Trace"))
	}
}
