package tollgate_test

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate"
	"github.com/tollgate-dev/tollgate/config"
	"github.com/tollgate-dev/tollgate/core"
)

// newUpstreamGateway is a gateway of the three providers over one fake
// upstream, h, with the stages of stagesYAML (pipeline entries, one a
// line) before call and track. It returns the upstream's URL too.
func newUpstreamGateway(t *testing.T, h http.HandlerFunc, stagesYAML string) (*gateway, string) {
	t.Helper()
	up := httptest.NewServer(h)
	t.Cleanup(up.Close)
	dir := t.TempDir()
	usage := filepath.Join(dir, "usage.jsonl")
	cfgYAML := fmt.Sprintf(`
data_dir: %s
providers:
  openai: {base_url: %s/v1, api_key_env: TEST_OPENAI_KEY}
  anthropic: {base_url: %[2]s, api_key_env: TEST_ANTHROPIC_KEY}
  gemini: {base_url: %[2]s, api_key_env: TEST_GEMINI_KEY}
pipeline:
%s  - {name: call, kind: builtin}
  - {name: track, kind: builtin, config: {sinks: [{type: jsonl, path: %s}]}}
`, dir, up.URL, stagesYAML, usage)
	path := filepath.Join(dir, "tollgate.yaml")
	if err := os.WriteFile(path, []byte(cfgYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(config.Options{Path: path, Environ: []string{"TEST_OPENAI_KEY=" + testKey,
		"TEST_ANTHROPIC_KEY=" + testAnthropicKey, "TEST_GEMINI_KEY=" + testGeminiKey}})
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	eng, err := tollgate.New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("engine: %v", err)
	}
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
