package h1transport_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/internal/h1transport"
)

// counted is a test server that counts the connections it accepted.
type counted struct {
	*httptest.Server
	conns atomic.Int32
}

func newServer(t *testing.T, h http.HandlerFunc) *counted {
	t.Helper()
	s := &counted{Server: httptest.NewUnstartedServer(h)}
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

func get(t *testing.T, rt http.RoundTripper, method, url string, body string) (*http.Response, error) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	return rt.RoundTrip(req)
}

// readBody reads and closes a response body.
func readBody(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatalf("reading the body: %v", err)
	}
	return string(b)
}

func TestKeepAliveReuse(t *testing.T) {
	tests := []struct {
		name    string
		handler http.HandlerFunc
		conns   int32 // connections the server sees for three calls
	}{
		{"content-length", func(w http.ResponseWriter, r *http.Request) { io.Copy(io.Discard, r.Body); fmt.Fprint(w, "ok") }, 1},
		{"chunked", func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprint(w, "o")
			w.(http.Flusher).Flush()
			fmt.Fprint(w, "k")
		}, 1},
		{"empty 204", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }, 1},
		{"server says close", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Connection", "close")
			fmt.Fprint(w, "ok")
		}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, tt.handler)
			tr := &h1transport.Transport{MaxIdleConnsPerHost: 4}
			defer tr.CloseIdleConnections()
			for i := 0; i < 3; i++ {
				resp, err := get(t, tr, "POST", srv.URL+"/x", `{"a":1}`)
				if err != nil {
					t.Fatal(err)
				}
				got := readBody(t, resp)
				if resp.StatusCode == http.StatusOK && got != "ok" {
					t.Fatalf("body %q, want ok", got)
				}
			}
			if n := srv.conns.Load(); n != tt.conns {
				t.Fatalf("server saw %d connections, want %d", n, tt.conns)
			}
		})
	}
}

// TestBodyEndWithoutEOF: a Content-Length body read to its last byte and
// closed before the reader saw io.EOF still returns the connection.
func TestBodyEndWithoutEOF(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "hello") })
	tr := &h1transport.Transport{}
	for i := 0; i < 3; i++ {
		resp, err := get(t, tr, "GET", srv.URL, "")
		if err != nil {
			t.Fatal(err)
		}
		b := make([]byte, resp.ContentLength)
		if _, err := io.ReadFull(resp.Body, b); err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if n := srv.conns.Load(); n != 1 {
		t.Fatalf("server saw %d connections, want 1", n)
	}
}

func TestEarlyCloseDropsConnection(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, strings.Repeat("x", 64<<10))
	})
	tr := &h1transport.Transport{}
	resp, err := get(t, tr, "GET", srv.URL, "")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Read(make([]byte, 10))
	resp.Body.Close()
	if _, err := resp.Body.Read(make([]byte, 10)); err == nil {
		t.Fatal("read after Close succeeded")
	}
	resp, err = get(t, tr, "GET", srv.URL, "")
	if err != nil {
		t.Fatal(err)
	}
	if got := readBody(t, resp); len(got) != 64<<10 {
		t.Fatalf("second call: %d bytes", len(got))
	}
	if n := srv.conns.Load(); n != 2 {
		t.Fatalf("server saw %d connections, want 2 (the half-read one must not be reused)", n)
	}
}

// TestStreamPassesEventsAsTheyArrive: the first event is readable while
// the server still holds the second back.
func TestStreamPassesEventsAsTheyArrive(t *testing.T) {
	release := make(chan struct{})
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		fmt.Fprint(w, "data: one\n\n")
		w.(http.Flusher).Flush()
		<-release
		fmt.Fprint(w, "data: two\n\n")
	})
	tr := &h1transport.Transport{}
	resp, err := get(t, tr, "GET", srv.URL, "")
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(resp.Body)
	line, err := br.ReadString('\n')
	if err != nil || line != "data: one\n" {
		t.Fatalf("first event: %q, %v", line, err)
	}
	close(release)
	rest, _ := io.ReadAll(br)
	resp.Body.Close()
	if !strings.Contains(string(rest), "data: two") {
		t.Fatalf("rest %q", rest)
	}
}

func TestContextCancel(t *testing.T) {
	tests := []struct {
		name        string
		cancelAfter string // "headers": while waiting for them; "body": mid-body
	}{
		{"waiting for headers", "headers"},
		{"reading the body", "body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			upstreamGone := make(chan struct{})
			srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body) // the server watches for a hang-up once the body is read
				if tt.cancelAfter == "body" {
					w.Header().Set("Content-Type", "text/event-stream")
					fmt.Fprint(w, "data: one\n\n")
					w.(http.Flusher).Flush()
				}
				<-r.Context().Done() // the client's connection closed
				close(upstreamGone)
			})
			tr := &h1transport.Transport{}
			ctx, cancel := context.WithCancel(context.Background())
			req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL, strings.NewReader("{}"))
			if tt.cancelAfter == "headers" {
				time.AfterFunc(50*time.Millisecond, cancel)
				_, err := tr.RoundTrip(req)
				if !errors.Is(err, context.Canceled) {
					t.Fatalf("err %v, want context.Canceled", err)
				}
			} else {
				resp, err := tr.RoundTrip(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Read(make([]byte, 64))
				time.AfterFunc(50*time.Millisecond, cancel)
				if _, err := io.ReadAll(resp.Body); err == nil {
					t.Fatal("body read on after cancel")
				}
			}
			select {
			case <-upstreamGone:
			case <-time.After(5 * time.Second):
				t.Fatal("the upstream never saw the connection close")
			}
		})
	}
}

func TestResponseHeaderTimeout(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	})
	tr := &h1transport.Transport{ResponseHeaderTimeout: 50 * time.Millisecond}
	_, err := get(t, tr, "GET", srv.URL, "")
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("err %v, want a net.Error with Timeout() true", err)
	}
}

// TestResponseHeaderTimeoutCleared: a slow body after quick headers is
// not cut by the header timeout.
func TestResponseHeaderTimeoutCleared(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(200)
		w.(http.Flusher).Flush()
		time.Sleep(150 * time.Millisecond)
		fmt.Fprint(w, "late")
	})
	tr := &h1transport.Transport{ResponseHeaderTimeout: 50 * time.Millisecond}
	resp, err := get(t, tr, "GET", srv.URL, "")
	if err != nil {
		t.Fatal(err)
	}
	if got := readBody(t, resp); got != "late" {
		t.Fatalf("body %q", got)
	}
}

func TestTLS(t *testing.T) {
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %v", r.Proto, r.TLS != nil)
	}))
	srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			conns.Add(1)
		}
	}
	srv.EnableHTTP2 = true // the transport must still speak HTTP/1.1
	srv.StartTLS()
	defer srv.Close()
	tr := &h1transport.Transport{TLSClientConfig: srv.Client().Transport.(*http.Transport).TLSClientConfig, TLSHandshakeTimeout: 5 * time.Second}
	for i := 0; i < 2; i++ {
		resp, err := get(t, tr, "GET", srv.URL, "")
		if err != nil {
			t.Fatal(err)
		}
		if resp.TLS == nil || resp.TLS.NegotiatedProtocol == "h2" {
			t.Fatalf("TLS state %+v", resp.TLS)
		}
		if got := readBody(t, resp); got != "HTTP/1.1 true" {
			t.Fatalf("server saw %q", got)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("server saw %d connections, want 1", n)
	}
	// An untrusted certificate fails the handshake.
	bad := &h1transport.Transport{TLSClientConfig: &tls.Config{}}
	if _, err := get(t, bad, "GET", srv.URL, ""); err == nil {
		t.Fatal("an unknown certificate was accepted")
	}
}

// rawServer answers each accepted connection with fn.
func rawServer(t *testing.T, fn func(n int, c net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for n := 0; ; n++ {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() { defer wg.Done(); defer c.Close(); fn(n, c) }()
		}
	}()
	return "http://" + ln.Addr().String()
}

// readRequest reads one request and its body from c.
func readRequest(c net.Conn, br *bufio.Reader) (*http.Request, error) {
	req, err := http.ReadRequest(br)
	if err != nil {
		return nil, err
	}
	io.Copy(io.Discard, req.Body)
	return req, nil
}

func TestBadUpstreams(t *testing.T) {
	tests := []struct {
		name     string
		answer   string // written after the request is read
		maxHead  int64
		wantErr  string // in RoundTrip's error
		bodyErr  bool   // the round trip works, reading the body fails
		wantBody string
	}{
		{"malformed status line", "HELLO WORLD\r\n\r\n", 0, "malformed HTTP", false, ""},
		{"closed before answering", "", 0, "EOF", false, ""},
		{"closed mid-body", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten b", 0, "", true, ""},
		{"closed mid-chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc", 0, "", true, ""},
		{"huge headers", "HTTP/1.1 200 OK\r\nX-Big: " + strings.Repeat("a", 64<<10) + "\r\n\r\n", 4 << 10, "over 4096 bytes", false, ""},
		{"interim 100 then the answer", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 0, "", false, "ok"},
		{"switching protocols", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\n", 0, "101", false, ""},
		{"body until close", "HTTP/1.1 200 OK\r\n\r\nall of it", 0, "", false, "all of it"},
		{"early hints then the answer", "HTTP/1.1 103 Early Hints\r\nLink: </a>; rel=preload\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 0, "", false, "ok"},
		{"HTTP/1.0 answer", "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", 0, "", false, "ok"},
		{"204 with a length", "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n", 0, "", false, ""},
		{"chunked with a trailer", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-T\r\n\r\n2\r\nok\r\n0\r\nX-T: v\r\n\r\n", 0, "", false, "ok"},
		{"bad status line after a good start", "HTTP/1.1 2x0 OK\r\n\r\n", 0, "malformed HTTP status code", false, ""},
		{"head cut short", "HTTP/1.1 200 OK\r\nContent-", 0, "missing colon", false, ""},
		{"head cut at a line end", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n", 0, "unexpected EOF", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			url := rawServer(t, func(_ int, c net.Conn) {
				if _, err := readRequest(c, bufio.NewReader(c)); err != nil {
					return
				}
				io.WriteString(c, tt.answer)
			})
			tr := &h1transport.Transport{MaxResponseHeaderBytes: tt.maxHead}
			resp, err := get(t, tr, "POST", url, "{}")
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if tt.bodyErr != (err != nil) {
				t.Fatalf("body error %v, want an error: %v", err, tt.bodyErr)
			}
			if !tt.bodyErr && string(b) != tt.wantBody {
				t.Fatalf("body %q, want %q", b, tt.wantBody)
			}
		})
	}
}

// TestStalePooledConnection: a pooled connection the server closed while
// idle is not used.
func TestStalePooledConnection(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") })
	tr := &h1transport.Transport{}
	for i := 0; i < 2; i++ {
		resp, err := get(t, tr, "POST", srv.URL, "{}")
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		readBody(t, resp)
		srv.CloseClientConnections()
		time.Sleep(20 * time.Millisecond) // the FIN arrives
	}
}

// TestRetryOnPooledConnection: a pooled connection that fails after the
// request was written is retried for an idempotent request only.
func TestRetryOnPooledConnection(t *testing.T) {
	tests := []struct {
		method  string
		wantErr bool
	}{
		{"GET", false},
		{"POST", true},
	}
	for _, tt := range tests {
		t.Run(tt.method, func(t *testing.T) {
			url := rawServer(t, func(n int, c net.Conn) {
				br := bufio.NewReader(c)
				if _, err := readRequest(c, br); err != nil {
					return
				}
				io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
				if n == 0 {
					readRequest(c, br) // the second call: read, then hang up unanswered
				}
			})
			tr := &h1transport.Transport{}
			resp, err := get(t, tr, tt.method, url, "")
			if err != nil {
				t.Fatal(err)
			}
			readBody(t, resp)
			resp, err = get(t, tr, tt.method, url, "")
			if (err != nil) != tt.wantErr {
				t.Fatalf("second call: err %v, want an error: %v", err, tt.wantErr)
			}
			if err == nil {
				readBody(t, resp)
			}
		})
	}
}

func TestIdleTimeoutAndPoolSize(t *testing.T) {
	var closed atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(20 * time.Millisecond) // overlap the calls
		fmt.Fprint(w, "ok")
	}))
	srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateClosed {
			closed.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	tr := &h1transport.Transport{MaxIdleConnsPerHost: 1, IdleConnTimeout: 100 * time.Millisecond}
	var wg sync.WaitGroup
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := get(t, tr, "GET", srv.URL, "")
			if err != nil {
				t.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}()
	}
	wg.Wait()
	waitFor(t, func() bool { return closed.Load() == 2 }, "two of three connections closed (pool of one)")
	waitFor(t, func() bool { return closed.Load() == 3 }, "the pooled connection closed after the idle timeout")
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting: %s", what)
}

// recorder is a fallback that records what it was handed.
type recorder struct{ got []string }

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	r.got = append(r.got, req.URL.String())
	return &http.Response{StatusCode: 299, Body: http.NoBody, Request: req}, nil
}

func TestProxyAndFallback(t *testing.T) {
	var seen atomic.Value
	proxy := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		seen.Store(r.RequestURI + " " + r.Header.Get("Proxy-Authorization"))
		fmt.Fprint(w, "via proxy")
	})
	pu, _ := url.Parse(proxy.URL)
	pu.User = url.UserPassword("u", "p")
	fb := &recorder{}
	tr := &h1transport.Transport{Proxy: http.ProxyURL(pu), Fallback: fb}

	req, _ := http.NewRequest("GET", "http://upstream.invalid/v1/x?q=1", nil)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	if got := readBody(t, resp); got != "via proxy" {
		t.Fatalf("body %q", got)
	}
	if got, want := seen.Load(), "http://upstream.invalid/v1/x?q=1 Basic dTpw"; got != want {
		t.Fatalf("proxy saw %q, want %q", got, want)
	}
	if req.Header.Get("Proxy-Authorization") != "" {
		t.Fatal("the caller's request was modified")
	}

	for _, u := range []string{"https://upstream.invalid/x"} { // CONNECT: net/http's job
		req, _ := http.NewRequest("GET", u, nil)
		if resp, err := tr.RoundTrip(req); err != nil || resp.StatusCode != 299 {
			t.Fatalf("%s: not handed to the fallback: %v", u, err)
		}
	}
	direct := &h1transport.Transport{Fallback: fb}
	for _, r := range []*http.Request{
		must(http.NewRequest("GET", "ftp://upstream.invalid/x", nil)),
		withHeader(must(http.NewRequest("POST", "http://upstream.invalid/x", strings.NewReader("{}"))), "Expect", "100-continue"),
	} {
		if resp, err := direct.RoundTrip(r); err != nil || resp.StatusCode != 299 {
			t.Fatalf("%s %v: not handed to the fallback: %v", r.URL, r.Header, err)
		}
	}
	if len(fb.got) != 3 {
		t.Fatalf("fallback got %v", fb.got)
	}
	none := &h1transport.Transport{}
	if _, err := none.RoundTrip(must(http.NewRequest("GET", "ftp://upstream.invalid/x", nil))); !errors.Is(err, h1transport.ErrUnsupported) {
		t.Fatalf("err %v, want ErrUnsupported", err)
	}
}

func must(r *http.Request, err error) *http.Request {
	if err != nil {
		panic(err)
	}
	return r
}

func withHeader(r *http.Request, k, v string) *http.Request {
	r.Header.Set(k, v)
	return r
}

func TestUnreachable(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	tr := &h1transport.Transport{}
	var oe *net.OpError
	if _, err := get(t, tr, "GET", "http://"+addr, ""); !errors.As(err, &oe) {
		t.Fatalf("err %v, want a *net.OpError", err)
	}
}

func TestConcurrentCalls(t *testing.T) {
	srv := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Write(b)
	})
	tr := &h1transport.Transport{MaxIdleConnsPerHost: 8, IdleConnTimeout: time.Second}
	defer tr.CloseIdleConnections()
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				want := fmt.Sprintf("g%d-%d", g, i)
				resp, err := get(t, tr, "POST", srv.URL, want)
				if err != nil {
					t.Error(err)
					return
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if string(b) != want {
					t.Errorf("got %q, want %q", b, want)
					return
				}
			}
		}()
	}
	wg.Wait()
	if n := srv.conns.Load(); n > 8 {
		t.Fatalf("%d connections for 8 concurrent callers", n)
	}
}
