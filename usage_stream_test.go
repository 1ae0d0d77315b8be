package tollgate_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/pipeline"
)

// newUpstreamGateway is a gateway of the three providers over one fake
// upstream, h, with the stages of stagesYAML (pipeline entries, one a
// line) before call and track. It returns the upstream's URL too.
func newUpstreamGateway(t *testing.T, h http.HandlerFunc, stagesYAML string) (*gateway, string) {
	t.Helper()
	return upstreamGateway(t, h, stagesYAML, slog.New(slog.DiscardHandler))
}

// upstreamGateway is newUpstreamGateway logging to log.
func upstreamGateway(t *testing.T, h http.HandlerFunc, stagesYAML string, log *slog.Logger) (*gateway, string) {
	t.Helper()
	up := httptest.NewServer(h)
	t.Cleanup(up.Close)
	dir := t.TempDir()
	usage := filepath.Join(dir, "usage.jsonl")
	eng := engineFor(t, dir, up.URL, fmt.Sprintf(`pipeline:
%s  - {name: call, kind: builtin}
  - {name: track, kind: builtin, config: {sinks: [{type: jsonl, path: %s}]}}
`, stagesYAML, usage), log)
	g := &gateway{eng: eng, usage: usage}
	t.Cleanup(func() { g.close(t) })
	return g, up.URL
}

// A streamed answer of each provider whose usage the upstream reports in
// its own events: 30 input tokens and 12 output tokens in all.
var meteredStreams = []struct {
	name, path, req, stream string
}{
	{"openai", chatPath, `{"model":"gpt-4o","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"hi"}]}`,
		`data: {"id":"c1","choices":[{"index":0,"delta":{"content":"hi"},"finish_reason":null}],"usage":null}` + "\n\n" +
			`data: {"id":"c1","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":null}` + "\n\n" +
			`data: {"id":"c1","choices":[],"usage":{"prompt_tokens":30,"completion_tokens":12,"total_tokens":42}}` + "\n\n" +
			"data: [DONE]\n\n"},
	{"anthropic", messagesPath, strings.Replace(messagesBody, `"max_tokens"`, `"stream":true,"max_tokens"`, 1),
		"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":30,\"output_tokens\":1}}}\n\n" +
			"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"hi\"}}\n\n" +
			"event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":12}}\n\n" +
			"event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n"},
	{"gemini", geminiSSEPath, geminiBody,
		`data: {"candidates":[{"content":{"parts":[{"text":"hi"}]}}],"usageMetadata":{"promptTokenCount":30,"candidatesTokenCount":2,"totalTokenCount":32}}` + "\r\n\r\n" +
			`data: {"candidates":[{"content":{"parts":[{"text":" there"}]},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":30,"candidatesTokenCount":12,"totalTokenCount":42}}` + "\r\n\r\n"},
}

// usageEvent reports whether a provider's event carries usage.
func usageEvent(ev *core.Event) bool {
	return ev.Name == "message_start" || ev.Name == "message_delta" ||
		strings.Contains(string(ev.Data), `"usageMetadata"`) || strings.Contains(string(ev.Data), `"usage":{`)
}

var countRE = regexp.MustCompile(`("(?:prompt_tokens|completion_tokens|total_tokens|input_tokens|output_tokens|promptTokenCount|candidatesTokenCount|totalTokenCount)":)\d+`)

// The test stage "usage-tamper" does to a stream what a plugin's
// stream_event hook can: drop the events that carry usage, rewrite their
// counts to 1, or (a Go stage can) end the stream after the first event.
func init() {
	pipeline.RegisterBuiltin("usage-tamper", func(s pipeline.Spec, _ pipeline.Env) (any, error) {
		var cfg struct {
			Action string `json:"action"`
		}
		if err := s.Decode(&cfg); err != nil {
			return nil, err
		}
		return core.StageFunc(func(ctx context.Context, req *core.Request, next core.HandlerFunc) (*core.Response, error) {
			resp, err := next(ctx, req)
			if err != nil || resp.Stream == nil {
				return resp, err
			}
			inner, ended := resp.Stream, false
			resp.Stream = core.StreamFunc{CloseFunc: inner.Close, NextFunc: func() (*core.Event, error) {
				for {
					if ended {
						return nil, io.EOF
					}
					ev, err := inner.Next()
					if err != nil {
						return nil, err
					}
					switch {
					case cfg.Action == "stop":
						ended = true
					case !usageEvent(ev):
					case cfg.Action == "drop":
						continue
					case cfg.Action == "lower":
						ev.Data = countRE.ReplaceAll(ev.Data, []byte("${1}1"))
						ev.Raw = countRE.ReplaceAll(ev.Raw, []byte("${1}1"))
					}
					return ev, nil
				}
			}}
			return resp, nil
		}), nil
	})
}

// A stage between the call stage and the client — a plugin's stream_event
// hook — that drops the events carrying the usage, or rewrites their
// counts lower, changes what the client gets, not the usage recorded: the
// call stage meters the stream as the upstream sent it, on every provider.
func TestStreamUsageSurvivesAStageHidingIt(t *testing.T) {
	for _, s := range meteredStreams {
		for _, action := range []string{"drop", "lower"} {
			t.Run(s.name+" "+action, func(t *testing.T) {
				g, _ := newUpstreamGateway(t, func(w http.ResponseWriter, r *http.Request) {
					io.Copy(io.Discard, r.Body)
					eventStream(w, s.stream)
				}, "  - {name: usage-tamper, kind: builtin, config: {action: "+action+"}}\n")
				resp := post(t, serveGateway(t, g)+s.path, s.req)
				got := string(readAll(t, resp.Body))
				switch {
				case resp.StatusCode != 200:
					t.Fatalf("status %d: %s", resp.StatusCode, got)
				case action == "drop" && (strings.Contains(got, "_tokens\":") || strings.Contains(got, "usageMetadata")):
					t.Errorf("the client got the usage the stage dropped: %s", got)
				case action == "lower" && (strings.Contains(got, "30") || strings.Contains(got, "12")):
					t.Errorf("the client got the counts the stage rewrote: %s", got)
				}
				ev := g.onlyEvent(t)
				if ev.Status != core.StatusOK || ev.InputTokens != 30 || ev.OutputTokens != 12 || ev.TotalTokens != 42 || ev.UsageEstimated {
					t.Errorf("event %s %d in %d out (estimated %v), want ok with the upstream's 30 and 12", ev.Status, ev.InputTokens, ev.OutputTokens, ev.UsageEstimated)
				}
			})
		}
	}
}

// A stage that ends the stream after its first event gives the client less
// than the upstream made. The upstream bills what it made, of which the
// gateway knows what it read: the counts the upstream had reported by
// then, else its estimate, flagged — never less than the events the client
// got show. The call is the stage's error; the client got a 200 and a
// clean end.
func TestStreamEndedEarlyByAStage(t *testing.T) {
	want := map[string][2]int64{ // what the call stage read by the end of the first event
		"openai":    {8, 1},  // one content chunk, no report yet: the prompt's estimate
		"anthropic": {30, 1}, // message_start's report, its output a placeholder
		"gemini":    {30, 2}, // the counts of the first chunk, not yet the last
	}
	for _, s := range meteredStreams {
		t.Run(s.name, func(t *testing.T) {
			g, _ := newUpstreamGateway(t, func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				eventStream(w, s.stream)
			}, "  - {name: usage-tamper, kind: builtin, config: {action: stop}}\n")
			resp := post(t, serveGateway(t, g)+s.path, s.req)
			got, err := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 || err != nil || strings.Count(string(got), "data: ") != 1 {
				t.Fatalf("%d %q, %v: want a 200 with one event, ended cleanly", resp.StatusCode, got, err)
			}
			ev := g.onlyEvent(t)
			if ev.Status != core.StatusError || ev.HTTPStatus != 200 || !strings.Contains(ev.Error, "a stage ended the stream before the upstream's last event") {
				t.Errorf("event %s %d %q; want the stage's error with the client's 200", ev.Status, ev.HTTPStatus, ev.Error)
			}
			if w := want[s.name]; ev.InputTokens != w[0] || ev.OutputTokens != w[1] || !ev.UsageEstimated {
				t.Errorf("event %d in %d out (estimated %v), want %d and %d estimated", ev.InputTokens, ev.OutputTokens, ev.UsageEstimated, w[0], w[1])
			}
		})
	}
}

// A stream whose upstream answered 200 and broke mid-way is an upstream
// error, with the error and the usage estimated from what arrived; its
// http_status is the 200 the client got, as the client got it, not the 502
// of an answer that never started. The same through the transport an SDK
// uses.
func TestStreamBrokenAfterA200KeepsTheClientsStatus(t *testing.T) {
	for _, s := range meteredStreams {
		first := s.stream[:strings.Index(s.stream, "\n\n")+2]
		if s.name == "gemini" {
			first = s.stream[:strings.Index(s.stream, "\r\n\r\n")+4]
		}
		broken := func(w http.ResponseWriter, r *http.Request) {
			io.Copy(io.Discard, r.Body)
			eventStream(w, first)
			panic(http.ErrAbortHandler) // the connection breaks
		}
		t.Run(s.name+" handler", func(t *testing.T) {
			g, _ := newUpstreamGateway(t, broken, "")
			resp := post(t, serveGateway(t, g)+s.path, s.req)
			got, err := io.ReadAll(resp.Body)
			if resp.StatusCode != 200 || err == nil || string(got) != first {
				t.Fatalf("%d %q, %v: want a 200 with the first event, then the stream broken", resp.StatusCode, got, err)
			}
			checkBroken(t, g.onlyEvent(t))
		})
		t.Run(s.name+" transport", func(t *testing.T) {
			g, up := newUpstreamGateway(t, broken, "")
			client := &http.Client{Transport: g.eng.Transport()} // an SDK's client, calling the upstream
			req, _ := http.NewRequest(http.MethodPost, up+s.path, strings.NewReader(s.req))
			req.Header.Set("Content-Type", "application/json")
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || err == nil || !strings.HasPrefix(string(got), strings.TrimRight(first, "\r\n")) {
				t.Fatalf("%d %q, %v: want a 200, then the stream broken", resp.StatusCode, got, err)
			}
			checkBroken(t, g.onlyEvent(t))
		})
	}
}

func checkBroken(t *testing.T, ev core.UsageEvent) {
	t.Helper()
	if ev.Status != core.StatusUpstreamError || ev.HTTPStatus != 200 || ev.Error == "" || !ev.UsageEstimated || ev.OutputTokens == 0 {
		t.Errorf("event %s %d %q, %d out (estimated %v); want an upstream error with the 200 the client got, the error, and the estimate",
			ev.Status, ev.HTTPStatus, ev.Error, ev.OutputTokens, ev.UsageEstimated)
	}
}

// A real plugin: the ABI conformance module (WebAssembly text, built by
// `make plugins`) drops every stream event that says "conf-drop". The
// upstream's usage chunk says it: the client never gets the chunk, and
// the usage recorded is still the upstream's.
func TestWasmStreamEventHookCannotHideUsage(t *testing.T) {
	const module = "plugins/wasm/testdata/conformance-wat.wasm"
	b, err := os.ReadFile(module)
	if err != nil {
		t.Skipf("%s is missing: run `make plugins` (make test does)", module)
	}
	sum := sha256.Sum256(b)
	stream := strings.Replace(meteredStreams[0].stream, `{"id":"c1","choices":[],"usage"`, `{"id":"conf-drop","choices":[],"usage"`, 1)
	// The grants are those the module's imports need; it uses none here.
	g, _ := newUpstreamGateway(t, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		eventStream(w, stream)
	}, "  - {name: conf, kind: wasm, config: {path: "+module+", sha256: \""+hex.EncodeToString(sum[:])+"\", deliver_to: [\"https://allowed.example/\"], emit_to: [jsonl]}}\n")
	resp := post(t, serveGateway(t, g)+chatPath, meteredStreams[0].req)
	got := string(readAll(t, resp.Body))
	if resp.StatusCode != 200 || strings.Contains(got, "conf-drop") || !strings.HasSuffix(got, "data: [DONE]\n\n") {
		t.Fatalf("%d %q: want the stream without the usage chunk the plugin dropped", resp.StatusCode, got)
	}
	ev := g.onlyEvent(t)
	if ev.Status != core.StatusOK || ev.InputTokens != 30 || ev.OutputTokens != 12 || ev.UsageEstimated {
		t.Errorf("event %s %d in %d out (estimated %v), want ok with the upstream's 30 and 12", ev.Status, ev.InputTokens, ev.OutputTokens, ev.UsageEstimated)
	}
}
