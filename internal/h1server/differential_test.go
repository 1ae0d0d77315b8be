package h1server_test

import (
	"bytes"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// testHandler is the handler every differential scenario runs on both
// servers.
func testHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/small", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello")
	})
	mux.HandleFunc("/json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"ok":true}`)
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		w.Write(bytes.Repeat([]byte("0123456789"), 1000))
	})
	mux.HandleFunc("/declared", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "3000")
		w.Write(bytes.Repeat([]byte("a"), 3000))
	})
	mux.HandleFunc("/short", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "10")
		io.WriteString(w, "abc") // fewer than declared: the connection cannot be reused
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%d bytes, err %v, length %d, sum %d", len(b), err, r.ContentLength, sum(b))
	})
	mux.HandleFunc("/unread", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "not read")
	})
	mux.HandleFunc("/closed-body", func(w http.ResponseWriter, r *http.Request) {
		r.Body.Close()
		_, err := r.Body.Read(make([]byte, 1))
		fmt.Fprintf(w, "read after close: %v", err)
	})
	mux.HandleFunc("/stream", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for i := range 3 {
			fmt.Fprintf(w, "data: %d\n\n", i)
			w.(http.Flusher).Flush()
		}
	})
	mux.HandleFunc("/hints", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Link", "</a.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		io.WriteString(w, "after hints")
	})
	mux.HandleFunc("/nocontent", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusNoContent)
		_, err := io.WriteString(w, "x")
		w.Header().Set("X-Err", fmt.Sprint(err)) // too late to be seen
	})
	mux.HandleFunc("/notmodified", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusNotModified)
	})
	mux.HandleFunc("/status", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(599)
	})
	mux.HandleFunc("/close", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		io.WriteString(w, "bye")
	})
	mux.HandleFunc("/trailer", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Sum")
		io.WriteString(w, "body")
		w.Header().Set("X-Sum", "42")
	})
	mux.HandleFunc("/panic", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "partial")
		panic("boom")
	})
	mux.HandleFunc("/abort", func(w http.ResponseWriter, r *http.Request) {
		panic(http.ErrAbortHandler)
	})
	mux.HandleFunc("/info", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s %s host=%s remote-set=%v local=%v", r.Method, r.URL, r.Proto, r.Host,
			r.RemoteAddr != "", r.Context().Value(http.LocalAddrContextKey) != nil)
	})
	mux.HandleFunc("/headers", func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %q %s host=%q close=%v length=%d te=%v body=%q err=%v\n", r.Method, r.RequestURI, r.Proto,
			r.Host, r.Close, r.ContentLength, r.TransferEncoding, b, err)
		for _, k := range slices.Sorted(maps.Keys(r.Header)) {
			fmt.Fprintf(w, "%s: %q\n", k, r.Header[k])
		}
	})
	return mux
}

func sum(b []byte) (s int) {
	for _, c := range b {
		s += int(c)
	}
	return s
}

// TestFraming sends raw requests and compares every answer and whether
// the connection stays usable.
func TestFraming(t *testing.T) {
	big := strings.Repeat("b", 300<<10)
	tests := []struct {
		name    string
		raw     string
		methods []string // one per answer expected
	}{
		{"keep-alive", "GET /small HTTP/1.1\r\nHost: x\r\n\r\n", []string{"GET"}},
		{"sniffed type", "GET /big HTTP/1.1\r\nHost: x\r\n\r\n", []string{"GET"}},
		{"set type", "GET /json HTTP/1.1\r\nHost: x\r\n\r\n", []string{"GET"}},
		{"declared length", "GET /declared HTTP/1.1\r\nHost: x\r\n\r\n", []string{"GET"}},
		{"short of declared length", "GET /short HTTP/1.1\r\nHost: x\r\n\r\n", []string{"GET"}},
		{"content-length body", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", []string{"POST"}},
		{"chunked body", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", []string{"POST"}},
		{"chunked body with trailer", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nX-T: 1\r\n\r\n", []string{"POST"}},
		{"bad chunked body", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n", []string{"POST"}},
		{"unread small body is drained", "POST /unread HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", []string{"POST"}},
		{"unread chunked body is drained", "POST /unread HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", []string{"POST"}},
		{"unread large body closes", "POST /unread HTTP/1.1\r\nHost: x\r\nContent-Length: " + fmt.Sprint(len(big)) + "\r\n\r\n" + big, []string{"POST"}},
		{"closed body", "POST /closed-body HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", []string{"POST"}},
		{"HEAD", "HEAD /small HTTP/1.1\r\nHost: x\r\n\r\n", []string{"HEAD"}},
		{"HEAD of big", "HEAD /big HTTP/1.1\r\nHost: x\r\n\r\n", []string{"HEAD"}},
		{"HTTP/1.0", "GET /small HTTP/1.0\r\n\r\n", []string{"GET"}},
		{"HTTP/1.0 keep-alive", "GET /small HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", []string{"GET"}},
		{"HTTP/1.0 keep-alive, big", "GET /big HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", []string{"GET"}},
		{"HTTP/1.0 stream", "GET /stream HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", []string{"GET"}},
		{"client Connection: close", "GET /small HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", []string{"GET"}},
		{"handler Connection: close", "GET /close HTTP/1.1\r\nHost: x\r\n\r\n", []string{"GET"}},
		{"pipelined", "GET /small HTTP/1.1\r\nHost: x\r\n\r\nPOST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcGET /json HTTP/1.1\r\nHost: x\r\n\r\n", []string{"GET", "POST", "GET"}},
		{"pipelined after close", "GET /small HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGET /json HTTP/1.1\r\nHost: x\r\n\r\n", []string{"GET", "GET"}},
		{"stray CRLF after POST", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\na\r\nGET /small HTTP/1.1\r\nHost: x\r\n\r\n", []string{"POST", "GET"}},
		{"stream", "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n", []string{"GET"}},
		{"early hints", "GET /hints HTTP/1.1\r\nHost: x\r\n\r\n", []string{"GET", "GET"}},
		{"204", "GET /nocontent HTTP/1.1\r\nHost: x\r\n\r\n", []string{"GET"}},
		{"304", "GET /notmodified HTTP/1.1\r\nHost: x\r\n\r\n", []string{"GET"}},
		{"unknown status", "GET /status HTTP/1.1\r\nHost: x\r\n\r\n", []string{"GET"}},
		{"trailer", "GET /trailer HTTP/1.1\r\nHost: x\r\n\r\n", []string{"GET"}},
		{"not found", "GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n", []string{"GET"}},
		{"request info", "OPTIONS /info?q=1 HTTP/1.1\r\nHost: example.com:80\r\n\r\n", []string{"OPTIONS"}},
		{"OPTIONS *", "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\nGET /small HTTP/1.1\r\nHost: x\r\n\r\n", []string{"OPTIONS", "GET"}},
		{"OPTIONS * with a body", "OPTIONS * HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloGET /small HTTP/1.1\r\nHost: x\r\n\r\n", []string{"OPTIONS", "GET"}},
		{"OPTIONS * with a big body", "OPTIONS * HTTP/1.1\r\nHost: x\r\nContent-Length: " + fmt.Sprint(len(big)) + "\r\n\r\n" + big, []string{"OPTIONS"}},
		{"GET *", "GET * HTTP/1.1\r\nHost: x\r\n\r\n", []string{"GET"}},
		{"absolute URL", "GET http://example.com/info HTTP/1.1\r\nHost: other\r\n\r\n", []string{"GET"}},
		{"garbage", "HELLO\r\n\r\n", []string{"GET"}},
		// Heads the fast parser reads, and the ones it leaves to
		// http.ReadRequest, which both servers must read alike.
		{"header forms", "GET /headers?q=1 HTTP/1.1\r\nhost: x\r\nx-lower: 1\r\nX-Dup: a\r\nx-dup: b\r\nX-Empty:\r\nX-Pad: \t v \t\r\nX-Obs: \x80\xff\r\n\r\n", []string{"GET"}},
		{"same header twice in a row", "GET /headers HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n\r\nGET /headers HTTP/1.1\r\nHost: x\r\nX-A: 1\r\nX-B: 2\r\n\r\n", []string{"GET", "GET"}},
		{"content-length with zeros", "POST /headers HTTP/1.1\r\nHost: x\r\nContent-Length: 003\r\n\r\nabc", []string{"POST"}},
		{"content-length zero", "POST /headers HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", []string{"POST"}},
		{"content-length too big", "POST /headers HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n", []string{"POST"}},
		{"content-length signed", "POST /headers HTTP/1.1\r\nHost: x\r\nContent-Length: +3\r\n\r\nabc", []string{"POST"}},
		{"content-length empty", "POST /headers HTTP/1.1\r\nHost: x\r\nContent-Length:\r\n\r\n", []string{"POST"}},
		{"duplicate equal content-length", "POST /headers HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc", []string{"POST"}},
		{"duplicate differing content-length", "POST /headers HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", []string{"POST"}},
		{"chunked and content-length", "POST /headers HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", []string{"POST"}},
		{"body cut short", "POST /headers HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc", []string{"POST"}},
		{"obs-fold", "GET /headers HTTP/1.1\r\nHost: x\r\nX-Fold: a\r\n  b\r\n\r\n", []string{"GET"}},
		{"leading space on first header", "GET /headers HTTP/1.1\r\n Host: x\r\n\r\n", []string{"GET"}},
		{"space before colon", "GET /headers HTTP/1.1\r\nHost: x\r\nX-Sp : 1\r\n\r\n", []string{"GET"}},
		{"underscore name", "GET /headers HTTP/1.1\r\nHost: x\r\nX_Under: 1\r\n\r\n", []string{"GET"}},
		{"no colon", "GET /headers HTTP/1.1\r\nHost: x\r\nX-None\r\n\r\n", []string{"GET"}},
		{"DEL in value", "GET /headers HTTP/1.1\r\nHost: x\r\nX: a\x7fb\r\n\r\n", []string{"GET"}},
		{"bare LF lines", "GET /headers HTTP/1.1\nHost: x\nX-A: 1\n\n", []string{"GET"}},
		{"CR in the middle", "GET /headers HTTP/1.1\r\nHost: x\r\nX-A: 1\rX-B: 2\r\n\r\n", []string{"GET"}},
		{"two Hosts", "GET /headers HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", []string{"GET"}},
		{"big head", "GET /headers HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("b", 6<<10) + "\r\n\r\n", []string{"GET"}},
		{"HTTP/1.0 without Host", "GET /headers HTTP/1.0\r\n\r\n", []string{"GET"}},
		{"HTTP/1.0 keep-alive with body", "POST /headers HTTP/1.0\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\nhi", []string{"POST"}},
		{"HTTP/1.0 keep-alive and close", "GET /headers HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", []string{"GET"}},
		{"HTTP/1.1 close among tokens", "GET /headers HTTP/1.1\r\nHost: x\r\nConnection: foo, CLOSE\r\n\r\n", []string{"GET"}},
		{"HTTP/1.1 two Connection lines", "GET /headers HTTP/1.1\r\nHost: x\r\nConnection: foo\r\nConnection: close\r\n\r\n", []string{"GET"}},
		{"Pragma", "GET /headers HTTP/1.1\r\nHost: x\r\nPragma: no-cache\r\n\r\n", []string{"GET"}},
		{"absolute-form", "GET http://example.com/headers?a=1 HTTP/1.1\r\nHost: other\r\n\r\n", []string{"GET"}},
		{"authority-form", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", []string{"CONNECT"}},
		{"double slash path", "GET //headers HTTP/1.1\r\nHost: x\r\n\r\n", []string{"GET"}},
		{"bad escape in path", "GET /%zz HTTP/1.1\r\nHost: x\r\n\r\n", []string{"GET"}},
		{"control byte in path", "GET /a\x01b HTTP/1.1\r\nHost: x\r\n\r\n", []string{"GET"}},
		{"unknown method", "BREW /headers HTTP/1.1\r\nHost: x\r\n\r\n", []string{"BREW"}},
		{"lowercase method", "get /headers HTTP/1.1\r\nHost: x\r\n\r\n", []string{"GET"}},
		{"lowercase version", "GET /headers http/1.1\r\nHost: x\r\n\r\n", []string{"GET"}},
		{"two spaces", "GET  /headers HTTP/1.1\r\nHost: x\r\n\r\n", []string{"GET"}},
		{"bad version", "GET /small HTTP/9.9\r\nHost: x\r\n\r\n", []string{"GET"}},
		{"missing Host", "GET /small HTTP/1.1\r\n\r\n", []string{"GET"}},
		{"empty Host", "GET /headers HTTP/1.1\r\nHost:\r\n\r\n", []string{"GET"}},
		{"blank Host", "POST /headers HTTP/1.1\r\nHost:  \r\nContent-Length: 2\r\n\r\nhi", []string{"POST"}},
		// Heads the fast parser leaves to http.ReadRequest (a chunked body,
		// an absolute-form target), with an empty Host.
		{"empty Host, chunked", "POST /headers HTTP/1.1\r\nhost:\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n", []string{"POST"}},
		{"empty Host, absolute target", "GET http://x/headers HTTP/1.1\r\nHOST: \r\n\r\n", []string{"GET"}},
		{"empty Host, bare LF lines", "GET /headers HTTP/1.1\nHOST: \n\n", []string{"GET"}},
		{"empty Host, a folded line", "GET /headers HTTP/1.1\r\nHost:\r\nX: a\r\n b\r\n\r\n", []string{"GET"}},
		{"no Host, chunked", "POST /headers HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", []string{"POST"}},
		{"bad Host", "GET /small HTTP/1.1\r\nHost: a b\r\n\r\n", []string{"GET"}},
		{"bad header name", "GET /small HTTP/1.1\r\nHost: x\r\nBad Name: 1\r\n\r\n", []string{"GET"}},
		{"bad header value", "GET /small HTTP/1.1\r\nHost: x\r\nX: a\x01b\r\n\r\n", []string{"GET"}},
		{"bad content-length", "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n", []string{"POST"}},
		{"unknown transfer encoding", "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", []string{"POST"}},
		{"unknown expectation", "POST /echo HTTP/1.1\r\nHost: x\r\nExpect: teapot\r\nContent-Length: 1\r\n\r\na", []string{"POST"}},
		{"expect 100 with body sent", "POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhello", []string{"POST", "POST"}},
		{"expect 100, body not read", "POST /unread HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n", []string{"POST"}},
		{"panic after a write", "GET /panic HTTP/1.1\r\nHost: x\r\n\r\n", []string{"GET"}},
		{"ErrAbortHandler", "GET /abort HTTP/1.1\r\nHost: x\r\n\r\n", []string{"GET"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			differential(t, testHandler(), settings{}, func(t *testing.T, addr string) string {
				return exchange(t, addr, tt.raw, tt.methods...)
			})
		})
	}
}

// TestHeadTooLarge sends a head past MaxHeaderBytes: 431 and a close.
func TestHeadTooLarge(t *testing.T) {
	raw := "GET /small HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 8<<10) + "\r\n\r\n"
	differential(t, testHandler(), settings{maxHeaderBytes: 1024}, func(t *testing.T, addr string) string {
		got := exchange(t, addr, raw, "GET")
		if !strings.Contains(got, "431") {
			t.Errorf("want 431, got\n%s", got)
		}
		return got
	})
}

// TestPanicLogged checks that a panic is logged with its stack and an
// ErrAbortHandler is not.
func TestPanicLogged(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			addr, logs := e.start(t, testHandler(), settings{})
			exchange(t, addr, "GET /abort HTTP/1.1\r\nHost: x\r\n\r\n", "GET")
			exchange(t, addr, "GET /panic HTTP/1.1\r\nHost: x\r\n\r\n", "GET")
			got := logs.String()
			if !strings.Contains(got, "panic serving") || !strings.Contains(got, "boom") || !strings.Contains(got, "goroutine ") {
				t.Errorf("log = %q, want the panic with its stack", got)
			}
			if strings.Count(got, "panic serving") != 1 {
				t.Errorf("log = %q, want one panic logged (ErrAbortHandler is silent)", got)
			}
		})
	}
}

// TestDateIsNow checks the cached Date header against the clock.
func TestDateIsNow(t *testing.T) {
	addr, _ := engines[1].start(t, testHandler(), settings{})
	for range 3 {
		before := time.Now().Truncate(time.Second)
		resp, err := http.Get("http://" + addr + "/small")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		after := time.Now()
		got, err := http.ParseTime(resp.Header.Get("Date"))
		if err != nil || got.Before(before) || got.After(after) {
			t.Errorf("Date %q (%v), want between %v and %v", resp.Header.Get("Date"), err, before, after)
		}
	}
}
