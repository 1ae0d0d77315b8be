package builtin_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/internal/h1transport"
	"github.com/tollgate-dev/tollgate/pipeline"
	"github.com/tollgate-dev/tollgate/plugins/builtin"
	"github.com/tollgate-dev/tollgate/providers/openai"
)

var transports = []string{builtin.TransportInline, builtin.TransportStandard}

const chatBody = `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`

const chatAnswer = `{"id":"c1","object":"chat.completion","model":"gpt-4o-mini","choices":[{"index":0,"message":{"role":"assistant","content":"hello"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}`

// callTo returns a call stage of the given transport and a chat request to
// base (an upstream's URL).
func callTo(t *testing.T, transport, base string, tune func(*builtin.CallConfig)) (*builtin.Call, *core.Request) {
	t.Helper()
	cfg := builtin.DefaultCallConfig()
	cfg.Transport = transport
	if tune != nil {
		tune(&cfg)
	}
	u, err := url.Parse(base + "/v1")
	if err != nil {
		t.Fatal(err)
	}
	c := builtin.NewCall(cfg, nil)
	t.Cleanup(func() { c.Close(context.Background()) })
	f := openai.New()
	req := &core.Request{ID: "r1", Method: http.MethodPost, Path: "/v1/chat/completions", Format: f,
		Operation: "chat.completions", Body: []byte(chatBody), Header: http.Header{},
		Upstream: core.NewUpstream("openai", "openai", u, "sk-test", "")}
	f.Parse(req)
	return c, req
}

// errKind is err's kind; an error that is not a *core.Error fails t.
func errKind(t *testing.T, err error) core.Kind {
	t.Helper()
	var ce *core.Error
	if !errors.As(err, &ce) {
		t.Fatalf("err %v (%T), want a *core.Error", err, err)
	}
	return ce.Kind
}

func TestCallAnswers(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path != "/v1/chat/completions" || r.Header.Get("Authorization") != "Bearer sk-test" {
					http.Error(w, "bad path or key", 400)
					return
				}
				w.Header().Set("Content-Type", "application/json")
				io.WriteString(w, chatAnswer)
			}))
			defer srv.Close()
			c, req := callTo(t, tr, srv.URL, nil)
			for i := 0; i < 2; i++ {
				resp, err := c.Handle(context.Background(), req, nil)
				if err != nil {
					t.Fatal(err)
				}
				if string(resp.Body) != chatAnswer || !resp.UsageKnown || resp.Usage.TotalTokens != 4 {
					t.Fatalf("answer %q usage %+v", resp.Body, resp.Usage)
				}
			}
		})
	}
}

func TestCallStreamPassesEventsAsTheyArrive(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr, func(t *testing.T) {
			release := make(chan struct{})
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/event-stream")
				io.WriteString(w, "data: {\"n\":1}\n\n")
				w.(http.Flusher).Flush()
				<-release
				io.WriteString(w, "data: {\"n\":2}\n\ndata: [DONE]\n\n")
			}))
			defer srv.Close()
			defer close(release)
			c, req := callTo(t, tr, srv.URL, nil)
			resp, err := c.Handle(context.Background(), req, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Stream.Close()
			ev, err := resp.Stream.Next() // must not wait for the second event
			if err != nil || string(ev.Data) != `{"n":1}` {
				t.Fatalf("first event %+v, %v", ev, err)
			}
		})
	}
}

func TestCallErrors(t *testing.T) {
	slow := func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	}
	tests := []struct {
		name    string
		handler http.HandlerFunc
		tune    func(*builtin.CallConfig)
		cancel  time.Duration // cancel the call's context after this
		want    core.Kind
	}{
		{"upstream error passes through", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "3")
			http.Error(w, `{"error":{"message":"slow down"}}`, 429)
		}, nil, 0, core.KindUpstream},
		{"response timeout", slow, func(c *builtin.CallConfig) { c.ResponseTimeout = pipeline.Duration(50 * time.Millisecond) }, 0, core.KindTimeout},
		{"client hangs up", slow, nil, 50 * time.Millisecond, core.KindClientGone},
		{"answer over max_response_bytes", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, strings.Repeat("x", 2048))
		}, func(c *builtin.CallConfig) { c.MaxResponseBytes = 1024 }, 0, core.KindUpstream},
		{"chunked answer over max_response_bytes", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "x")
			w.(http.Flusher).Flush()
			io.WriteString(w, strings.Repeat("x", 2048))
		}, func(c *builtin.CallConfig) { c.MaxResponseBytes = 1024 }, 0, core.KindUpstream},
		{"upstream hangs up mid-answer", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "100")
			io.WriteString(w, "partial")
			w.(http.Flusher).Flush()
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
		}, nil, 0, core.KindUpstream},
	}
	for _, tr := range transports {
		for _, tt := range tests {
			t.Run(tr+"/"+tt.name, func(t *testing.T) {
				srv := httptest.NewServer(tt.handler)
				defer srv.Close()
				c, req := callTo(t, tr, srv.URL, tt.tune)
				ctx, cancel := context.WithCancel(context.Background())
				defer cancel()
				if tt.cancel > 0 {
					time.AfterFunc(tt.cancel, cancel)
				}
				_, err := c.Handle(ctx, req, nil)
				if k := errKind(t, err); k != tt.want {
					t.Fatalf("err %v (kind %v), want kind %v", err, k, tt.want)
				}
			})
		}
	}
}

func TestCallUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	for _, tr := range transports {
		t.Run(tr, func(t *testing.T) {
			c, req := callTo(t, tr, "http://"+addr, nil)
			_, err := c.Handle(context.Background(), req, nil)
			if k := errKind(t, err); k != core.KindUnreachable {
				t.Fatalf("err %v, want kind unreachable (what the retry stage retries)", err)
			}
		})
	}
}

func TestCallTLSUpstream(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr, func(t *testing.T) {
			srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, chatAnswer)
			}))
			defer srv.Close()
			// The stage trusts the system roots: an unknown certificate
			// must fail as unreachable, not pass.
			c, req := callTo(t, tr, srv.URL, nil)
			if _, err := c.Handle(context.Background(), req, nil); errKind(t, err) != core.KindUnreachable {
				t.Fatalf("untrusted certificate: err %v, want kind unreachable", err)
			}
			// Trusted through a caller's transport settings: the
			// inline transport with the test server's roots.
			trust := srv.Client().Transport.(*http.Transport).TLSClientConfig
			c = builtin.NewCall(builtin.DefaultCallConfig(), builtin.NewCallTransport(withTransport(tr), trust))
			resp, err := c.Handle(context.Background(), req, nil)
			if err != nil || string(resp.Body) != chatAnswer {
				t.Fatalf("answer %v, %v", resp, err)
			}
		})
	}
}

func withTransport(tr string) builtin.CallConfig {
	cfg := builtin.DefaultCallConfig()
	cfg.Transport = tr
	return cfg
}

func ExampleCallConfig() {
	cfg := builtin.DefaultCallConfig()
	fmt.Println(cfg.Transport)
	// Output: inline
}

// writeCounter is a connection that counts its writes.
type writeCounter struct {
	net.Conn
	writes *atomic.Int64
}

func (c writeCounter) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(p)
}

// TestUpstreamRequestIsOneWrite checks that the upstream request, head and
// body, goes out in one write on both transports. A body net/http does not
// know to be in memory gets its head flushed on its own first: a second
// write, a second segment and a second wake-up of the upstream per call.
func TestUpstreamRequestIsOneWrite(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if b, _ := io.ReadAll(r.Body); string(b) != chatBody {
			http.Error(w, "body "+string(b), 400)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, chatAnswer)
	}))
	defer srv.Close()
	var writes atomic.Int64
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return writeCounter{c, &writes}, nil
	}
	rts := map[string]http.RoundTripper{
		builtin.TransportInline:   &h1transport.Transport{DialContext: dial},
		builtin.TransportStandard: &http.Transport{DialContext: dial},
	}
	for name, rt := range rts {
		t.Run(name, func(t *testing.T) {
			_, req := callTo(t, name, srv.URL, nil)
			c := builtin.NewCall(builtin.DefaultCallConfig(), rt)
			defer c.Close(context.Background())
			for i := range 3 {
				writes.Store(0)
				resp, err := c.Handle(context.Background(), req, nil)
				if err != nil {
					t.Fatal(err)
				}
				if string(resp.Body) != chatAnswer {
					t.Fatalf("answer %q", resp.Body)
				}
				if n := writes.Load(); n != 1 {
					t.Fatalf("call %d: the request took %d writes, want 1", i, n)
				}
			}
		})
	}
}

// Media types are case-insensitive: an upstream's Text/Event-Stream is a
// stream to pass on event by event, not a body to buffer.
func TestCallStreamMediaTypeIgnoresCase(t *testing.T) {
	for ct, stream := range map[string]bool{
		"Text/Event-Stream":                 true,
		"TEXT/EVENT-STREAM; charset=utf-8":  true,
		" text/event-stream ;charset=utf-8": true,
		"text/event-streams":                false,
		"application/json":                  false,
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", ct)
			io.WriteString(w, "data: {\"n\":1}\n\ndata: [DONE]\n\n")
		}))
		c, req := callTo(t, builtin.TransportInline, srv.URL, nil)
		resp, err := c.Handle(context.Background(), req, nil)
		srv.Close()
		if err != nil {
			t.Fatalf("%q: %v", ct, err)
		}
		if got := resp.Stream != nil; got != stream {
			t.Errorf("Content-Type %q: a stream %v, want %v", ct, got, stream)
		}
		if resp.Stream != nil {
			resp.Stream.Close()
		}
	}
}

// An upstream that answers with something that is not HTTP was reached
// (and may have billed the call): the error says so rather than "could
// not reach", and the retry stage still sees a 502 it may retry.
func TestCallBadAnswer(t *testing.T) {
	for name, answer := range map[string]string{
		"two lengths":  "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
		"bad length":   "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n{}",
		"bad status":   "HTTP/1.1 2000 OK\r\nContent-Length: 2\r\n\r\n{}",
		"not HTTP":     "SSH-2.0-OpenSSH_9.2\r\n\r\n",
		"head too big": "HTTP/1.1 200 OK\r\nX-Big: " + strings.Repeat("x", 2<<20) + "\r\n\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			go func() {
				conn, err := ln.Accept()
				if err != nil {
					return
				}
				defer conn.Close()
				conn.Read(make([]byte, 64<<10))
				io.WriteString(conn, answer)
			}()
			c, req := callTo(t, builtin.TransportInline, "http://"+ln.Addr().String(), nil)
			_, err = c.Handle(context.Background(), req, nil)
			var ce *core.Error
			if !errors.As(err, &ce) || ce.Kind != core.KindUpstream || ce.Code != "upstream_bad_answer" || ce.HTTPStatus() != 502 ||
				!strings.Contains(ce.Message, `upstream "openai" answered with something that is not a valid HTTP response: `) {
				t.Fatalf("err %#v, want an upstream_bad_answer 502 naming the upstream", err)
			}
		})
	}
}

// An error body is passed on whole, or not at all: half of one would not
// parse in the client's SDK.
func TestCallErrorBody(t *testing.T) {
	for _, tr := range transports {
		for size, passed := range map[int]bool{300: true, 2 << 20: false} {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(400)
				io.WriteString(w, `{"error":{"message":"`+strings.Repeat("m", size)+`"}}`)
			}))
			c, req := callTo(t, tr, srv.URL, nil)
			_, err := c.Handle(context.Background(), req, nil)
			srv.Close()
			var ce *core.Error
			if !errors.As(err, &ce) || ce.HTTPStatus() != 400 {
				t.Fatalf("%s, %d bytes: err %v, want the upstream's 400", tr, size, err)
			}
			if got := len(ce.Body) > 0; got != passed || (passed && !json.Valid(ce.Body)) {
				t.Errorf("%s, %d bytes: body of %d bytes passed on, want passed %v", tr, size, len(ce.Body), passed)
			}
			if !passed && !strings.Contains(ce.Message, `upstream "openai" answered 400, and its error body could not be passed on: the answer is `) {
				t.Errorf("%s: message %q", tr, ce.Message)
			}
		}
	}
}
