package h1server_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestHangupCancelsContext: a client that closes its connection while
// the handler waits, or while it streams, cancels the request's context.
// The watch delay is short and the test waits for the effect.
func TestHangupCancelsContext(t *testing.T) {
	for _, tt := range []struct {
		name string
		raw  string
		// stream: the handler writes an event until its context ends
		stream bool
	}{
		{"waiting, no body", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", false},
		{"waiting, body read", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", false},
		{"streaming", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for _, e := range engines {
				t.Run(e.name, func(t *testing.T) {
					started := make(chan struct{}, 1)
					ended := make(chan error, 1)
					h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						io.ReadAll(r.Body)
						started <- struct{}{}
						for {
							if tt.stream {
								io.WriteString(w, "data: x\n\n")
								w.(http.Flusher).Flush()
							}
							select {
							case <-r.Context().Done():
								ended <- r.Context().Err()
								return
							case <-time.After(10 * time.Millisecond):
							}
						}
					})
					addr, _ := e.start(t, h, settings{hangupDelay: time.Millisecond})
					c, err := net.Dial("tcp", addr)
					if err != nil {
						t.Fatal(err)
					}
					io.WriteString(c, tt.raw)
					<-started
					if tt.stream {
						// Read the head and an event, then go.
						br := bufio.NewReader(c)
						if _, err := http.ReadResponse(br, nil); err != nil {
							t.Fatal(err)
						}
					}
					c.Close()
					select {
					case err := <-ended:
						if !errors.Is(err, context.Canceled) {
							t.Errorf("context error %v, want context.Canceled", err)
						}
					case <-waitCtx(t).Done():
						t.Fatal("the handler's context was not cancelled after the client hung up")
					}
				})
			}
		})
	}
}

// TestPipelinedByteKept: the watch reads the next request's first byte
// while a long handler runs; that request must still be answered whole.
func TestPipelinedByteKept(t *testing.T) {
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			release := make(chan struct{})
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/slow" {
					<-release
				}
				fmt.Fprintf(w, "%s %s", r.Method, r.URL.Path)
			})
			addr, _ := e.start(t, h, settings{hangupDelay: time.Millisecond})
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			io.WriteString(c, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
			// The second request comes while the first handler waits:
			// once alone (its first byte may go to the watch), then the rest.
			time.Sleep(20 * time.Millisecond) // lets the watch start; not a measure
			io.WriteString(c, "G")
			time.Sleep(20 * time.Millisecond)
			io.WriteString(c, "ET /next HTTP/1.1\r\nHost: x\r\n\r\n")
			close(release)
			br := bufio.NewReader(c)
			for _, want := range []string{"GET /slow", "GET /next"} {
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatalf("reading the answer to %s: %v", want, err)
				}
				b, _ := io.ReadAll(resp.Body)
				if string(b) != want {
					t.Errorf("got %q, want %q", b, want)
				}
			}
		})
	}
}

// TestTimeouts: a head that does not arrive within ReadHeaderTimeout,
// and a keep-alive connection idle past IdleTimeout, are closed without
// an answer.
func TestTimeouts(t *testing.T) {
	s := settings{readHeaderTimeout: 50 * time.Millisecond, idleTimeout: 50 * time.Millisecond}
	differential(t, testHandler(), s, func(t *testing.T, addr string) string {
		// Half a head, then nothing: the server closes.
		c1, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c1.Close()
		c1.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(c1, "GET /small HTTP/1.1\r\nHost:")
		_, err1 := io.ReadAll(c1)

		// One answer, then idle: the server closes.
		c2, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c2.Close()
		c2.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(c2, "GET /small HTTP/1.1\r\nHost: x\r\n\r\n")
		br := bufio.NewReader(c2)
		got := readAnswer(br, "GET")
		_, err2 := io.ReadAll(br)
		return fmt.Sprintf("header timeout: read err %v\nidle: %s then read err %v\n", err1, got, err2)
	})
}

// TestReadDeadlineFromHandler: http.ResponseController's SetReadDeadline
// (what cmd/host's bodyDeadline uses) bounds a body that stalls.
func TestReadDeadlineFromHandler(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		if err := rc.SetReadDeadline(time.Now().Add(50 * time.Millisecond)); err != nil {
			t.Errorf("SetReadDeadline: %v", err)
		}
		if err := rc.SetWriteDeadline(time.Now().Add(time.Minute)); err != nil {
			t.Errorf("SetWriteDeadline: %v", err)
		}
		_, err := io.ReadAll(r.Body)
		var ne net.Error
		w.Header().Set("Connection", "close")
		fmt.Fprintf(w, "timeout=%v", errors.As(err, &ne) && ne.Timeout())
	})
	differential(t, h, settings{}, func(t *testing.T, addr string) string {
		return exchange(t, addr, "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc", "POST")
	})
}

// TestWatchStartsAndStops runs many short calls whose watch starts as the
// body ends (at once, or after a tiny delay) and is stopped by the
// call's end, often while it is just starting: none may hang or lose a
// byte.
func TestWatchStartsAndStops(t *testing.T) {
	for _, d := range []time.Duration{-1, time.Microsecond, 50 * time.Microsecond} {
		t.Run(d.String(), func(t *testing.T) {
			addr, _ := engines[1].start(t, testHandler(), settings{hangupDelay: d})
			c := &http.Client{Transport: &http.Transport{}}
			for i := range 300 {
				body := strings.Repeat("x", i)
				req, _ := http.NewRequestWithContext(waitCtx(t), "POST", "http://"+addr+"/echo", strings.NewReader(body))
				if i%2 == 0 {
					req, _ = http.NewRequestWithContext(waitCtx(t), "GET", "http://"+addr+"/small", nil)
				}
				got := get(t, c, req)
				if !strings.HasPrefix(got, "200 OK") {
					t.Fatalf("call %d: %s", i, got)
				}
			}
		})
	}
}
