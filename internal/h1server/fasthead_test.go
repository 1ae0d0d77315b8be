package h1server

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"reflect"
	"testing"
	"testing/iotest"
	"unsafe"
)

// headSeeds are heads the fast path takes (fast) or leaves to net/http.
var headSeeds = []struct {
	raw  string
	fast bool
}{
	{"GET / HTTP/1.1\r\nHost: x\r\n\r\n", true},
	{"POST /v1/chat/completions?a=b HTTP/1.1\r\nHost: example.com:8080\r\nContent-Type: application/json\r\nContent-Length: 3\r\nAuthorization: Bearer k\r\n\r\nabc", true},
	{"GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", true},
	{"GET /a HTTP/1.0\r\nConnection: Keep-Alive, close\r\n\r\n", true},
	{"GET /a HTTP/1.1\r\nhost: x\r\nx-lower-case: 1\r\nX-Dup: 1\r\nx-dup: 2\r\nX-Blank:\r\nX-Pad: \t v \t\r\n\r\n", true},
	{"GET /a HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\na", false},
	{"POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", false},
	{"GET /a HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\n\r\n", false},
	{"GET /a HTTP/1.1\nHost: x\n\n", false},
	{"GET http://h/a HTTP/1.1\r\nHost: x\r\n\r\n", false},
	{"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", false},
	{"GET //a?b#c HTTP/1.1\r\nHost: x\r\n\r\n", true},
	{"GET /%zz HTTP/1.1\r\nHost: x\r\n\r\n", false},
	{"GET /a HTTP/1.1\r\nHost: x\r\nPragma: no-cache\r\n\r\n", false},
	{"GET /a HTTP/1.1\r\nHost: x\r\nContent-Length: 007\r\n\r\n", true},
	{"GET /a HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n", false},
	{"GET /a HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", false},
	{"GET /a HTTP/1.1\r\nHost: x\r\nX: \x80\xff\r\n\r\n", true},
}

// FuzzFastHead checks the fast head parser against http.ReadRequest:
// what it takes must read exactly as net/http reads it, and what it
// leaves must be left unread. Two heads go through one parser, so the
// second reuses the first's strings.
func FuzzFastHead(f *testing.F) {
	for _, a := range headSeeds {
		for _, b := range headSeeds[:4] {
			f.Add([]byte(a.raw), []byte(b.raw))
		}
	}
	f.Fuzz(func(t *testing.T, a, b []byte) {
		var p headParser
		compareHead(t, &p, a, true)
		compareHead(t, &p, b, false)
	})
}

// TestFastHeadSeeds runs the fuzz seeds through the comparison in every
// test run, and checks the common heads take the fast path.
func TestFastHeadSeeds(t *testing.T) {
	var p headParser
	for i, s := range headSeeds {
		if fast := compareHead(t, &p, []byte(s.raw), i%2 == 0); fast != s.fast {
			t.Errorf("%q: fast = %v, want %v", s.raw, fast, s.fast)
		}
	}
}

func compareHead(t *testing.T, p *headParser, raw []byte, oneByte bool) (fast bool) {
	t.Helper()
	var r io.Reader = bytes.NewReader(raw)
	if oneByte {
		r = iotest.OneByteReader(r) // the head arrives in pieces
	}
	br := bufio.NewReaderSize(r, 4096)
	ctx := context.WithValue(context.Background(), p, 1)
	got, cancel := p.read(br, func() (context.Context, context.CancelFunc) { return context.WithCancel(ctx) })
	rest, _ := io.ReadAll(br)
	wbr := bufio.NewReaderSize(bytes.NewReader(raw), 4096)
	want, err := http.ReadRequest(wbr)
	wantRest, _ := io.ReadAll(wbr)
	if got == nil {
		if !bytes.Equal(rest, raw) {
			t.Fatalf("%q: left to net/http with %q consumed", raw, raw[:len(raw)-len(rest)])
		}
		return false
	}
	defer cancel()
	if err != nil {
		t.Fatalf("%q: fast head read it, http.ReadRequest: %v", raw, err)
	}
	if got.Context().Value(p) != 1 {
		t.Errorf("%q: the request lacks its context", raw)
	}
	for _, c := range []struct {
		name      string
		got, want any
	}{
		{"Method", got.Method, want.Method},
		{"URL", got.URL, want.URL},
		{"Proto", got.Proto, want.Proto},
		{"ProtoMajor", got.ProtoMajor, want.ProtoMajor},
		{"ProtoMinor", got.ProtoMinor, want.ProtoMinor},
		{"Header", got.Header, want.Header},
		{"ContentLength", got.ContentLength, want.ContentLength},
		{"TransferEncoding", got.TransferEncoding, want.TransferEncoding},
		{"Close", got.Close, want.Close},
		{"Host", got.Host, want.Host},
		{"RequestURI", got.RequestURI, want.RequestURI},
		{"Trailer", got.Trailer, want.Trailer},
		// The connection gives a fast head's non-empty body its reader.
		{"no body", got.ContentLength == 0, want.Body == http.NoBody},
		{"rest", string(rest), string(wantRest)},
	} {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%q: %s = %#v, net/http's %#v", raw, c.name, c.got, c.want)
		}
	}
	return true
}

// TestFastHeadReusesStrings checks a second request with the same
// header bytes shares the first's strings, and a changed value does not.
func TestFastHeadReusesStrings(t *testing.T) {
	var p headParser
	read := func(raw string) *http.Request {
		t.Helper()
		br := bufio.NewReader(bytes.NewReader([]byte(raw)))
		req, cancel := p.read(br, func() (context.Context, context.CancelFunc) { return context.WithCancel(context.Background()) })
		if req == nil {
			t.Fatalf("%q was not read by the fast path", raw)
		}
		cancel()
		return req
	}
	head := "POST /v1/x HTTP/1.1\r\nHost: h\r\nX-Custom-Key: secret\r\nX-Trace: %s\r\n\r\n"
	a := read(sprintf(head, "1"))
	b := read(sprintf(head, "2"))
	same := func(x, y string) bool { return unsafe.StringData(x) == unsafe.StringData(y) }
	if !same(a.Header.Get("X-Custom-Key"), b.Header.Get("X-Custom-Key")) || !same(a.RequestURI, b.RequestURI) {
		t.Error("equal values were copied again")
	}
	if b.Header.Get("X-Trace") != "2" || same(a.Header.Get("X-Trace"), b.Header.Get("X-Trace")) {
		t.Errorf("changed value: %q", b.Header.Get("X-Trace"))
	}
	for k := range b.Header {
		if k == "X-Custom-Key" && !same(k, firstKey(a.Header, "X-Custom-Key")) {
			t.Error("an uncommon key was copied again")
		}
	}
}

func sprintf(format, v string) string {
	return string(bytes.Replace([]byte(format), []byte("%s"), []byte(v), 1))
}

func firstKey(h http.Header, k string) string {
	for key := range h {
		if key == k {
			return key
		}
	}
	return ""
}
