package h1server_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/internal/h1server"
	"github.com/tollgate-dev/tollgate/internal/logbuf"
)

// settings are the server fields a scenario sets on both servers.
type settings struct {
	readHeaderTimeout time.Duration
	idleTimeout       time.Duration
	maxHeaderBytes    int
	hangupDelay       time.Duration
}

// engine starts one kind of server on a loopback listener.
type engine struct {
	name  string
	start func(t *testing.T, h http.Handler, s settings) (addr string, logs *logbuf.Buffer)
}

var engines = []engine{
	{"net-http", func(t *testing.T, h http.Handler, s settings) (string, *logbuf.Buffer) {
		t.Helper()
		logs := &logbuf.Buffer{}
		srv := &http.Server{Handler: h, ReadHeaderTimeout: s.readHeaderTimeout, IdleTimeout: s.idleTimeout,
			MaxHeaderBytes: s.maxHeaderBytes, ErrorLog: log.New(logs, "", 0)}
		return serveOn(t, srv.Serve, srv.Close), logs
	}},
	{"h1server", func(t *testing.T, h http.Handler, s settings) (string, *logbuf.Buffer) {
		t.Helper()
		logs := &logbuf.Buffer{}
		srv := &h1server.Server{Handler: h, ReadHeaderTimeout: s.readHeaderTimeout, IdleTimeout: s.idleTimeout,
			MaxHeaderBytes: s.maxHeaderBytes, ErrorLog: log.New(logs, "", 0), HangupCheckDelay: s.hangupDelay}
		return serveOn(t, srv.Serve, srv.Close), logs
	}},
}

func serveOn(t *testing.T, serve func(net.Listener) error, closeFn func() error) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- serve(ln) }()
	t.Cleanup(func() {
		closeFn()
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("Serve returned %v, want http.ErrServerClosed", err)
		}
	})
	return ln.Addr().String()
}

// differential runs check against both servers and fails when what a
// client observed differs.
func differential(t *testing.T, h http.Handler, s settings, check func(t *testing.T, addr string) string) {
	t.Helper()
	var got []string
	for _, e := range engines {
		addr, _ := e.start(t, h, s)
		got = append(got, check(t, addr))
	}
	if got[0] != got[1] {
		t.Errorf("net/http and h1server differ:\n--- net-http\n%s\n--- h1server\n%s", got[0], got[1])
	}
}

// exchange sends raw bytes, reads n answers (methods says each one's
// request method, for HEAD), then probes whether the connection is
// still usable, and returns all of it as text.
func exchange(t *testing.T, addr, raw string, methods ...string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second)) // a hang fails the test, it is not a measure
	if _, err := io.WriteString(c, raw); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	var out strings.Builder
	for _, m := range methods {
		out.WriteString(readAnswer(br, m))
	}
	out.WriteString(probe(c, br))
	return out.String()
}

// readAnswer reads one response and describes it, without its Date.
func readAnswer(br *bufio.Reader, method string) string {
	resp, err := http.ReadResponse(br, &http.Request{Method: method})
	if err != nil {
		return "read error: " + errClass(err) + "\n"
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s close=%v length=%d te=%v\n", resp.Proto, resp.Status, resp.Close, resp.ContentLength, resp.TransferEncoding)
	keys := slices.Sorted(func(yield func(string) bool) {
		for k := range resp.Header {
			if !yield(k) {
				return
			}
		}
	})
	for _, k := range keys {
		if k != "Date" {
			fmt.Fprintf(&b, "  %s: %s\n", k, strings.Join(resp.Header[k], ", "))
		}
	}
	if _, ok := resp.Header["Date"]; ok {
		b.WriteString("  (Date)\n")
	}
	fmt.Fprintf(&b, "  body %q", body)
	if err != nil {
		b.WriteString(" error " + errClass(err))
	}
	if len(resp.Trailer) > 0 {
		fmt.Fprintf(&b, " trailer %v", resp.Trailer)
	}
	b.WriteString("\n")
	return b.String()
}

// probe sends one more request and reports whether it was answered.
func probe(c net.Conn, br *bufio.Reader) string {
	io.WriteString(c, "GET /small HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return "then: connection closed\n"
	}
	resp.Body.Close()
	return "then: connection open\n"
}

// errClass names an error by kind, not by its text, which differs
// between runs (addresses).
func errClass(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, io.EOF):
		return "EOF"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "unexpected EOF"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.As(err, &ne):
		return "net error"
	}
	return fmt.Sprintf("%T", err)
}

// waitCtx is a context for a test's waits: they end in the effect, and
// the bound only stops a broken run.
func waitCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}
