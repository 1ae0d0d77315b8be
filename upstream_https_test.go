package tollgate_test

import (
	"context"
	"encoding/pem"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/tollgate-dev/tollgate"
	"github.com/tollgate-dev/tollgate/config"
	"github.com/tollgate-dev/tollgate/core"
)

// httpsGateway is a gateway over an HTTPS upstream that offers HTTP/2 by
// ALPN, as the providers' APIs do, with the call stage's transport; the
// gateway trusts the upstream's certificate through the call stage's
// ca_file. It returns the gateway and the upstream's URL.
func httpsGateway(t *testing.T, transport string, h http.HandlerFunc, log *slog.Logger) (*gateway, string) {
	t.Helper()
	up := httptest.NewUnstartedServer(h)
	up.EnableHTTP2 = true
	up.StartTLS()
	t.Cleanup(up.Close)
	dir := t.TempDir()
	ca := filepath.Join(dir, "upstream-ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: up.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	usage := filepath.Join(dir, "usage.jsonl")
	eng := engineFor(t, dir, up.URL, fmt.Sprintf(`pipeline:
  - {name: call, kind: builtin, config: {transport: %s, ca_file: %s}}
  - {name: track, kind: builtin, config: {sinks: [{type: jsonl, path: %s}]}}
`, transport, ca, usage), log)
	g := &gateway{eng: eng, usage: usage}
	t.Cleanup(func() { g.close(t) })
	return g, up.URL
}

// The chat answer the HTTPS upstreams give, whole and streamed: "Hello
// over TLS", 21 input and 7 output tokens.
const (
	tlsAnswer = `{"id":"c1","object":"chat.completion","created":1,"model":"gpt-4o","choices":[{"index":0,"message":{"role":"assistant","content":"Hello over TLS"},"finish_reason":"stop"}],"usage":{"prompt_tokens":21,"completion_tokens":7,"total_tokens":28}}`
	tlsFirst  = `data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"role":"assistant","content":"Hello"},"finish_reason":null}]}` + "\n\n"
	tlsRest   = `data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{"content":" over TLS"},"finish_reason":null}]}` + "\n\n" +
		`data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}` + "\n\n" +
		`data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"gpt-4o","choices":[],"usage":{"prompt_tokens":21,"completion_tokens":7,"total_tokens":28}}` + "\n\n" +
		"data: [DONE]\n\n"
)

// The two ways into the engine: the gateway's handler over HTTP, and the
// library's RoundTripper under the SDK.
var ingresses = []string{"gateway", "library"}

// chatClient is the official SDK calling g through ingress.
func chatClient(t *testing.T, g *gateway, ingress, upURL string) openai.Client {
	t.Helper()
	if ingress == "library" {
		return openai.NewClient(option.WithBaseURL(upURL+"/v1"), option.WithAPIKey("sk-client-own-key"),
			option.WithHTTPClient(&http.Client{Transport: g.eng.Transport()}), option.WithMaxRetries(0))
	}
	return openai.NewClient(option.WithBaseURL(serveGateway(t, g)+"/v1"), option.WithAPIKey("sk-client-own-key"),
		option.WithMaxRetries(0))
}

// TestHTTPSUpstreamOfferingHTTP2: a chat call to an HTTPS upstream that
// offers HTTP/2, whole and streamed, through the gateway and the library,
// on each transport: the client gets the answer intact, the event records
// the upstream's tokens, the upstream is spoken to in the protocol the
// docs say (inline: HTTP/1.1; standard: HTTP/2), and a stream's events
// reach the client as they come — the upstream holds its stream after the
// first event until the client has seen it.
func TestHTTPSUpstreamOfferingHTTP2(t *testing.T) {
	for _, tr := range []struct {
		transport string
		wantProto int
	}{{"inline", 1}, {"standard", 2}} {
		for _, ingress := range ingresses {
			for _, stream := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/%s/stream=%v", tr.transport, ingress, stream), func(t *testing.T) {
					var proto atomic.Int32
					firstSeen := make(chan struct{})
					var held atomic.Bool
					g, upURL := httpsGateway(t, tr.transport, func(w http.ResponseWriter, r *http.Request) {
						proto.Store(int32(r.ProtoMajor))
						io.Copy(io.Discard, r.Body)
						if !stream {
							w.Header().Set("Content-Type", "application/json")
							io.WriteString(w, tlsAnswer)
							return
						}
						w.Header().Set("Content-Type", "text/event-stream")
						io.WriteString(w, tlsFirst)
						w.(http.Flusher).Flush()
						select {
						case <-firstSeen:
							held.Store(true)
						case <-r.Context().Done():
							return
						case <-time.After(20 * time.Second): // a guard against a hang, not a measure
						}
						io.WriteString(w, tlsRest)
					}, slog.New(slog.DiscardHandler))
					client := chatClient(t, g, ingress, upURL)
					ctx := context.Background()
					params := chatParams
					var text string
					if stream {
						params.StreamOptions.IncludeUsage = openai.Bool(true)
						s := client.Chat.Completions.NewStreaming(ctx, params)
						for s.Next() {
							if c := s.Current(); len(c.Choices) > 0 {
								text += c.Choices[0].Delta.Content
							}
							select {
							case <-firstSeen:
							default:
								close(firstSeen)
							}
						}
						if err := s.Err(); err != nil {
							t.Fatalf("stream: %v", err)
						}
						if !held.Load() {
							t.Error("the first event reached the client only after the upstream stopped holding the stream: events are held back")
						}
					} else {
						c, err := client.Chat.Completions.New(ctx, params)
						if err != nil {
							t.Fatalf("call: %v", err)
						}
						text = c.Choices[0].Message.Content
					}
					if text != "Hello over TLS" {
						t.Errorf("answer %q, want %q", text, "Hello over TLS")
					}
					if got := proto.Load(); got != int32(tr.wantProto) {
						t.Errorf("the upstream was spoken to in HTTP/%d, want HTTP/%d", got, tr.wantProto)
					}
					ev := g.onlyEvent(t)
					if ev.Status != core.StatusOK || ev.InputTokens != 21 || ev.OutputTokens != 7 || ev.UsageEstimated {
						t.Errorf("event %+v; want ok, 21 in, 7 out, not estimated", ev)
					}
				})
			}
		}
	}
}

// TestCallStageCAFile: a ca_file that cannot be read or holds no
// certificate is refused when the pipeline is built, naming the stage and
// the file.
func TestCallStageCAFile(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	os.WriteFile(notPEM, []byte("not a certificate"), 0o600)
	for _, tt := range []struct{ name, file, want string }{
		{"missing", filepath.Join(dir, "missing.pem"), "missing.pem: no such file"},
		{"no certificate", notPEM, "not.pem holds no PEM certificate"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, "tollgate.yaml")
			os.WriteFile(path, []byte("data_dir: "+dir+"\npipeline:\n  - {name: call, kind: builtin, config: {ca_file: "+tt.file+"}}\n"), 0o600)
			cfg, err := config.Load(config.Options{Path: path})
			if err != nil {
				t.Fatalf("config: %v", err)
			}
			_, err = tollgate.New(cfg, slog.New(slog.DiscardHandler))
			if err == nil || !strings.Contains(err.Error(), "pipeline[0] (call): config: ca_file") || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err %v; want one naming the stage, ca_file and %q", err, tt.want)
			}
		})
	}
}

// TestHTTPSStreamResetMidway: a stream the upstream breaks off after its
// first event — over HTTP/2 a reset of the stream, over HTTP/1.1 a closed
// connection — reaches the client cut short, not ended cleanly, and the
// event records an upstream error with the gateway's estimate of the
// tokens that passed.
func TestHTTPSStreamResetMidway(t *testing.T) {
	for _, transport := range []string{"inline", "standard"} {
		t.Run(transport, func(t *testing.T) {
			g, upURL := httpsGateway(t, transport, func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				w.Header().Set("Content-Type", "text/event-stream")
				io.WriteString(w, tlsFirst)
				w.(http.Flusher).Flush()
				panic(http.ErrAbortHandler)
			}, slog.New(slog.DiscardHandler))
			client := chatClient(t, g, "library", upURL)
			params := chatParams
			params.StreamOptions.IncludeUsage = openai.Bool(true)
			s := client.Chat.Completions.NewStreaming(context.Background(), params)
			var text string
			for s.Next() {
				if c := s.Current(); len(c.Choices) > 0 {
					text += c.Choices[0].Delta.Content
				}
			}
			if s.Err() == nil || text != "Hello" {
				t.Errorf("stream ended with %v after %q; want an error after %q", s.Err(), text, "Hello")
			}
			ev := g.onlyEvent(t)
			if ev.Status != core.StatusUpstreamError || !ev.UsageEstimated || ev.OutputTokens == 0 {
				t.Errorf("event %+v; want an upstream error with the estimated output that passed", ev)
			}
		})
	}
}
