package tollgate_test

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/openai/openai-go/v3"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/internal/logbuf"
)

// compressingUpstream answers the chat call (tlsAnswer, or the stream
// tlsFirst + tlsRest) compressed with coding whatever the request asked
// for, as some servers and proxies do; a stream is compressed event by
// event, flushed after each. asked records the Accept-Encoding it got.
func compressingUpstream(coding string, stream bool, asked *atomic.Value) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		asked.Store(r.Header.Get("Accept-Encoding"))
		io.Copy(io.Discard, r.Body)
		var zw interface {
			io.Writer
			Flush() error
			Close() error
		}
		var buf bytes.Buffer
		out := io.Writer(w)
		if !stream {
			out = &buf // whole, to send its Content-Length
		}
		if coding == "deflate" {
			zw = zlib.NewWriter(out)
		} else {
			zw = gzip.NewWriter(out)
		}
		w.Header().Set("Content-Encoding", coding)
		if !stream {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(zw, tlsAnswer)
			zw.Close()
			w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
			w.Write(buf.Bytes())
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		for _, ev := range strings.SplitAfter(tlsFirst+tlsRest, "\n\n") {
			io.WriteString(zw, ev)
			zw.Flush()
			w.(http.Flusher).Flush()
		}
		zw.Close()
	}
}

// TestCompressedAnswers: an upstream that compresses its answer though
// the gateway asked for none (gzip, or deflate), whole or streamed, on
// each transport: the usage is read from the decoded answer, and the
// client gets the decoded answer with headers that describe it — no
// Content-Encoding, a Content-Length that is the body's — through the
// gateway (a client that itself accepts gzip) and through the library
// (the SDK, which decodes nothing its transport did not ask for).
func TestCompressedAnswers(t *testing.T) {
	for _, transport := range []string{"inline", "standard"} {
		for _, coding := range []string{"gzip", "deflate"} {
			for _, ingress := range ingresses {
				for _, stream := range []bool{false, true} {
					t.Run(fmt.Sprintf("%s/%s/%s/stream=%v", transport, coding, ingress, stream), func(t *testing.T) {
						var asked atomic.Value
						g, upURL := httpsGateway(t, transport, compressingUpstream(coding, stream, &asked), slog.New(slog.DiscardHandler))
						var text string
						if ingress == "gateway" {
							text = rawChat(t, serveGateway(t, g), stream)
						} else {
							text = sdkChat(t, chatClient(t, g, ingress, upURL), stream)
						}
						if text != "Hello over TLS" {
							t.Errorf("answer %q, want %q", text, "Hello over TLS")
						}
						if got := asked.Load(); got != "identity" {
							t.Errorf("the upstream was asked for Accept-Encoding %q, want identity", got)
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
}

// rawChat makes the chat call to the gateway at url with a client that
// accepts gzip itself (so Go's transport decodes nothing), checks that the
// answer's headers describe its bytes, and returns the answer's text.
func rawChat(t *testing.T, url string, stream bool) string {
	t.Helper()
	body := scriptChat
	if stream {
		body = `{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`
	}
	resp := post(t, url+chatPath, body, "Accept-Encoding", "gzip")
	defer resp.Body.Close()
	got := readAll(t, resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d: %s", resp.StatusCode, got)
	}
	if ce := resp.Header.Get("Content-Encoding"); ce != "" {
		t.Errorf("Content-Encoding %q on a body sent decoded: %.40q", ce, got)
	}
	if cl := resp.Header.Get("Content-Length"); !stream && cl != strconv.Itoa(len(got)) {
		t.Errorf("Content-Length %q for a body of %d bytes", cl, len(got))
	}
	if !stream {
		if !bytes.Equal(got, []byte(tlsAnswer)) {
			t.Errorf("body %q, want the upstream's answer decoded", got)
		}
		return "Hello over TLS"
	}
	if string(got) != tlsFirst+tlsRest {
		t.Errorf("stream %q, want the upstream's events decoded", got)
	}
	return "Hello over TLS"
}

// sdkChat makes the chat call with the SDK and returns the answer's text.
func sdkChat(t *testing.T, client openai.Client, stream bool) string {
	t.Helper()
	ctx := context.Background()
	params := chatParams
	if !stream {
		c, err := client.Chat.Completions.New(ctx, params)
		if err != nil {
			t.Fatalf("call: %v", err)
		}
		return c.Choices[0].Message.Content
	}
	params.StreamOptions.IncludeUsage = openai.Bool(true)
	s := client.Chat.Completions.NewStreaming(ctx, params)
	var text string
	for s.Next() {
		if c := s.Current(); len(c.Choices) > 0 {
			text += c.Choices[0].Delta.Content
		}
	}
	if err := s.Err(); err != nil {
		t.Fatalf("stream: %v", err)
	}
	return text
}

// TestAnswersThatDoNotDecode: an answer whose Content-Encoding the gateway
// does not decode (br), or whose bytes are not what its Content-Encoding
// says, reached an upstream that may bill it: the client gets a 502 that
// names the coding, the event records the call as estimated, and the log
// says why.
func TestAnswersThatDoNotDecode(t *testing.T) {
	tests := []struct {
		name, coding, body string
		wantCode, wantErr  string
	}{
		{"brotli", "br", "\x1b\x05\x00\xf8\xa5", "upstream_bad_answer", "which the gateway does not decode (it asks upstreams for identity"},
		{"not gzip", "gzip", tlsAnswer, "upstream_read_failed", "the answer is not valid gzip, as its Content-Encoding says"},
	}
	for _, transport := range []string{"inline", "standard"} {
		for _, tt := range tests {
			t.Run(transport+"/"+tt.name, func(t *testing.T) {
				logs := &logbuf.Buffer{}
				g, _ := httpsGateway(t, transport, func(w http.ResponseWriter, r *http.Request) {
					io.Copy(io.Discard, r.Body)
					w.Header().Set("Content-Type", "application/json")
					w.Header().Set("Content-Encoding", tt.coding)
					io.WriteString(w, tt.body)
				}, slog.New(slog.NewJSONHandler(logs, nil)))
				resp := post(t, serveGateway(t, g)+chatPath, scriptChat)
				got := readAll(t, resp.Body)
				if resp.StatusCode != http.StatusBadGateway || !strings.Contains(string(got), tt.wantCode) || !strings.Contains(string(got), tt.wantErr) {
					t.Errorf("status %d, body %s; want 502 %s saying %q", resp.StatusCode, got, tt.wantCode, tt.wantErr)
				}
				ev := g.onlyEvent(t)
				if ev.Status != core.StatusUpstreamError || !ev.UsageEstimated || !strings.Contains(ev.Error, tt.wantErr) {
					t.Errorf("event %+v; want an upstream error, estimated, saying %q", ev, tt.wantErr)
				}
				if log := logs.String(); !strings.Contains(log, tt.wantErr) || !strings.Contains(log, `"level":"WARN"`) {
					t.Errorf("log %s: want a warning saying %q", log, tt.wantErr)
				}
			})
		}
	}
}

// TestCompressedErrorPassesOnDecoded: a provider's error that comes
// gzip-compressed reaches the client as the provider's error, decoded —
// the SDK raises it with the provider's message and Retry-After — on each
// transport.
func TestCompressedErrorPassesOnDecoded(t *testing.T) {
	const errBody = `{"error":{"message":"Rate limit reached for gpt-4o","type":"requests","param":null,"code":"rate_limit_exceeded"}}`
	for _, transport := range []string{"inline", "standard"} {
		t.Run(transport, func(t *testing.T) {
			g, upURL := httpsGateway(t, transport, func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("Content-Encoding", "gzip")
				w.Header().Set("Retry-After", "7")
				w.WriteHeader(http.StatusTooManyRequests)
				zw := gzip.NewWriter(w)
				io.WriteString(zw, errBody)
				zw.Close()
			}, slog.New(slog.DiscardHandler))
			client := chatClient(t, g, "library", upURL)
			_, err := client.Chat.Completions.New(context.Background(), chatParams)
			var apiErr *openai.Error
			if !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusTooManyRequests || apiErr.Code != "rate_limit_exceeded" ||
				apiErr.Response.Header.Get("Retry-After") != "7" || apiErr.Response.Header.Get("Content-Encoding") != "" {
				t.Errorf("err %v; want the provider's 429 rate_limit_exceeded, decoded, with its Retry-After", err)
			}
			if ev := g.onlyEvent(t); ev.Status != core.StatusUpstreamError || ev.HTTPStatus != http.StatusTooManyRequests || ev.UsageEstimated {
				t.Errorf("event %+v; want an upstream error, 429, not estimated", ev)
			}
		})
	}
}

// TestAnswerCutShortIsEstimated: a whole answer whose connection ends
// before its Content-Length reached an upstream that may bill it: the
// client gets 502 upstream_read_failed and the event records the call as
// estimated, not as a free call.
func TestAnswerCutShortIsEstimated(t *testing.T) {
	for _, transport := range []string{"inline", "standard"} {
		t.Run(transport, func(t *testing.T) {
			g, _ := httpsGateway(t, transport, func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				w.Header().Set("Content-Type", "application/json")
				w.Header().Set("Content-Length", strconv.Itoa(len(tlsAnswer)))
				io.WriteString(w, tlsAnswer[:20])
				w.(http.Flusher).Flush()
				panic(http.ErrAbortHandler) // HTTP/1.1: the connection closes; HTTP/2: the stream is reset
			}, slog.New(slog.DiscardHandler))
			resp := post(t, serveGateway(t, g)+chatPath, scriptChat)
			got := readAll(t, resp.Body)
			if resp.StatusCode != http.StatusBadGateway || !strings.Contains(string(got), "upstream_read_failed") {
				t.Errorf("status %d, body %s; want 502 upstream_read_failed", resp.StatusCode, got)
			}
			if ev := g.onlyEvent(t); ev.Status != core.StatusUpstreamError || !ev.UsageEstimated {
				t.Errorf("event %+v; want an upstream error, estimated", ev)
			}
		})
	}
}
