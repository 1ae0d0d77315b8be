package tollgate_test

import (
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/core"
	"github.com/tollgate-dev/tollgate/internal/logbuf"
)

// newScriptedGateway is a gateway whose every upstream answers 200 with
// body, of content type ctype: what a misbehaving upstream sends. It
// returns the gateway and its log.
func newScriptedGateway(t *testing.T, ctype, body string) (*gateway, *logbuf.Buffer) {
	t.Helper()
	logs := &logbuf.Buffer{}
	g, _ := upstreamGateway(t, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", ctype)
		io.WriteString(w, body)
	}, "", slog.New(slog.NewJSONHandler(logs, nil)))
	return g, logs
}

// The calls of each provider the tests make.
const (
	chatPath         = "/v1/chat/completions"
	scriptChat       = `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`
	scriptChatStream = `{"model":"gpt-4o","stream":true,"messages":[{"role":"user","content":"hi"}]}`
	responsesPath    = "/v1/responses"
	responsesBody    = `{"model":"gpt-4o","stream":true,"input":"hi"}`
	messagesPath     = "/v1/messages"
	messagesBody     = `{"model":"claude-sonnet-4-5","max_tokens":50,"messages":[{"role":"user","content":"hi"}]}`
	geminiPath       = "/v1beta/models/gemini-2.5-flash:generateContent"
	geminiSSEPath    = "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
	geminiArray      = "/v1beta/models/gemini-2.5-flash:streamGenerateContent"
	geminiBody       = `{"contents":[{"parts":[{"text":"hi"}]}]}`
)

// scriptPrompt is the gateway's estimate of the prompt of scriptChat,
// scriptChatStream and responsesBody (docs/usage-events.md, "The prompt's
// estimate"): "hi" is 1 token, its message 4 more, the reply 3, as OpenAI
// counts it. OpenAI reports usage only with the whole answer, so a call
// without the report records this estimate as its input.
const scriptPrompt = 8

// TestUpstreamUsageThatCannotBeTrue: counts an upstream reports that are
// negative, overflow or have parts larger than their whole are recorded
// as the gateway's estimate, flagged, with a warning naming the upstream
// and quoting the report — on every provider.
func TestUpstreamUsageThatCannotBeTrue(t *testing.T) {
	const max = "9223372036854775807"
	tests := []struct {
		name, path, req, answer string
		wantIn, wantOut         int64
		wantEstimated           bool
		wantInLog               string
	}{
		{"openai negative", chatPath, scriptChat, `{"choices":[],"usage":{"prompt_tokens":-5000000,"completion_tokens":-3000000}}`, scriptPrompt, 0, true, "prompt_tokens is -5000000, a negative count"},
		{"openai both int64 max", chatPath, scriptChat, `{"choices":[],"usage":{"prompt_tokens":` + max + `,"completion_tokens":` + max + `}}`, scriptPrompt, 0, true, "is more than an int64 holds"},
		{"openai cached beyond the prompt", chatPath, scriptChat, `{"choices":[],"usage":{"prompt_tokens":10,"completion_tokens":2,"prompt_tokens_details":{"cached_tokens":5000000}}}`, scriptPrompt, 0, true, "cached input 5000000"},
		{"openai a count beyond int64", chatPath, scriptChat, `{"choices":[],"usage":{"prompt_tokens":99999999999999999999,"completion_tokens":2}}`, scriptPrompt, 0, true, "prompt_tokens is 99999999999999999999, more than an int64 holds"},
		{"openai a quoted count", chatPath, scriptChat, `{"choices":[],"usage":{"prompt_tokens":"10","completion_tokens":2}}`, 10, 2, false, ""},
		{"anthropic int64 max plus cache reads", messagesPath, messagesBody, `{"type":"message","content":[],"usage":{"input_tokens":` + max + `,"cache_read_input_tokens":10,"output_tokens":1}}`, 0, 0, true, "a negative count"},
		{"anthropic a quoted count", messagesPath, messagesBody, `{"type":"message","content":[],"usage":{"input_tokens":"12","output_tokens":3}}`, 12, 3, false, ""},
		{"gemini negative", geminiPath, geminiBody, `{"candidates":[],"usageMetadata":{"promptTokenCount":-8,"candidatesTokenCount":2}}`, 0, 0, true, "promptTokenCount is -8, a negative count"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, logs := newScriptedGateway(t, "application/json", tt.answer)
			resp := post(t, serveGateway(t, g)+tt.path, tt.req)
			readAll(t, resp.Body)
			ev := g.onlyEvent(t)
			if ev.Status != core.StatusOK || ev.InputTokens != tt.wantIn || ev.OutputTokens != tt.wantOut ||
				ev.TotalTokens != tt.wantIn+tt.wantOut || ev.CachedInputTokens != 0 || ev.UsageEstimated != tt.wantEstimated {
				t.Errorf("event %+v; want ok, %d in, %d out, estimated %v", ev, tt.wantIn, tt.wantOut, tt.wantEstimated)
			}
			log := logs.String()
			if tt.wantInLog == "" {
				if strings.Contains(log, "usage could not be used") {
					t.Errorf("a true report logged a warning: %s", log)
				}
				return
			}
			if !strings.Contains(log, tt.wantInLog) || !strings.Contains(log, `"level":"WARN"`) || !strings.Contains(log, `"upstream":"`) {
				t.Errorf("log %s: want a warning naming the upstream and saying %q", log, tt.wantInLog)
			}
		})
	}
}

// TestStreamEndingEarlyOrFailingIsAnUpstreamError: a stream that ends
// cleanly before its format's last event, or carries the provider's error,
// is recorded as an upstream error, on every provider.
func TestStreamEndingEarlyOrFailingIsAnUpstreamError(t *testing.T) {
	const (
		chatChunk  = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"hi\"}}],\"usage\":null}\n\n"
		geminiText = "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"hi\"}]}}],\"usageMetadata\":{\"promptTokenCount\":4,\"candidatesTokenCount\":1}}\r\n\r\n"
	)
	tests := []struct {
		name, path, req, stream string
		wantInError             string
	}{
		{"openai chat without [DONE]", chatPath, scriptChatStream, chatChunk + chatChunk, "before its last event"},
		{"openai chat error chunk", chatPath, scriptChatStream, chatChunk + "data: {\"error\":{\"message\":\"overloaded\",\"type\":\"server_error\"}}\n\n", "server_error: overloaded"},
		{"vllm's error then [DONE]", chatPath, scriptChatStream, chatChunk + "data: {\"object\":\"error\",\"message\":\"boom\",\"type\":\"BadRequestError\",\"param\":null,\"code\":400}\n\ndata: [DONE]\n\n",
			"BadRequestError: boom"},
		{"an error message then [DONE]", chatPath, scriptChatStream, chatChunk + "data: {\"error\":\"CUDA out of memory\",\"error_type\":\"generation\"}\n\ndata: [DONE]\n\n",
			"generation: CUDA out of memory"},
		{"openrouter's error beside the choices", chatPath, scriptChatStream, chatChunk +
			"data: {\"id\":\"gen-1\",\"error\":{\"code\":502,\"message\":\"Provider disconnected\"},\"choices\":[{\"index\":0,\"delta\":{\"content\":\"\"},\"finish_reason\":\"error\"}]}\n\ndata: [DONE]\n\n",
			"502: Provider disconnected"},
		{"openai responses error event", responsesPath, responsesBody, "event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\"hi\"}\n\n" +
			"event: error\ndata: {\"type\":\"error\",\"code\":\"server_error\",\"message\":\"boom\"}\n\n", "server_error: boom"},
		{"openai responses error without a name", responsesPath, responsesBody, "data: {\"type\":\"error\",\"code\":\"server_error\",\"message\":\"boom\"}\n\n", "server_error: boom"},
		{"anthropic without message_stop", messagesPath, strings.Replace(messagesBody, `"max_tokens"`, `"stream":true,"max_tokens"`, 1),
			"event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":5,\"output_tokens\":1}}}\n\n" +
				"event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"delta\":{\"type\":\"text_delta\",\"text\":\"hi\"}}\n\n", "before its last event"},
		{"gemini without finishReason", geminiSSEPath, geminiBody, geminiText, "before its last event"},
		{"gemini finishReason in a function call's arguments", geminiSSEPath, geminiBody,
			"data: {\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":{\"name\":\"set\",\"args\":{\"finishReason\":\"x\"}}}]}}]}\r\n\r\n", "before its last event"},
		{"gemini error chunk", geminiSSEPath, geminiBody, geminiText + "data: {\"error\":{\"code\":503,\"message\":\"overloaded\",\"status\":\"UNAVAILABLE\"}}\r\n\r\n", "UNAVAILABLE: overloaded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, _ := newScriptedGateway(t, "text/event-stream", tt.stream)
			resp := post(t, serveGateway(t, g)+tt.path, tt.req)
			if got := string(readAll(t, resp.Body)); got != tt.stream {
				t.Errorf("the client got %q, want the upstream's stream as it was", got)
			}
			ev := g.onlyEvent(t)
			if ev.Status != core.StatusUpstreamError || !strings.Contains(ev.Error, tt.wantInError) || !ev.Stream {
				t.Errorf("event %+v; want an upstream error saying %q", ev, tt.wantInError)
			}
			if n := int64(strings.Count(tt.stream, chatChunk)); tt.path == chatPath && (ev.OutputTokens != n || !ev.UsageEstimated) {
				t.Errorf("event %+v; want the %d content chunks counted, estimated", ev, n)
			}
			if (tt.path == chatPath || tt.path == responsesPath) && (ev.InputTokens != scriptPrompt || !ev.UsageEstimated) {
				t.Errorf("event %+v; want the prompt's estimate, %d tokens, as its input", ev, scriptPrompt)
			}
		})
	}
}

// TestAnswerWithoutUsageIsEstimated: a 200 answer of a metered call whose
// usage cannot be read reached the upstream, which may bill it: it is
// flagged as estimated and logged, once per upstream and period, not
// recorded as a free call.
func TestAnswerWithoutUsageIsEstimated(t *testing.T) {
	tests := []struct {
		name, path, req, ctype, answer, wantInLog string
		wantIn, wantOut                           int64
	}{
		{"html", chatPath, scriptChat, "text/html", "<html><body>502 Bad Gateway</body></html>", "the answer is not JSON", scriptPrompt, 0},
		{"empty", messagesPath, messagesBody, "application/json", "", "the answer is empty", 0, 0},
		{"gzip", chatPath, scriptChat, "application/json", "\x1f\x8b\x08\x00\x00\x00\x00\x00", "gzip-compressed", scriptPrompt, 0},
		{"malformed", geminiPath, geminiBody, "application/json", `{"candidates":[{"content":`, "the answer is not JSON", 0, 0},
		{"gemini array cut off", geminiArray, geminiBody, "application/json",
			`[{"candidates":[],"usageMetadata":{"promptTokenCount":4,"candidatesTokenCount":1}},{"candidates":[{"content":{"parts":[{"te`,
			"cut off after 1 whole chunks", 4, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, logs := newScriptedGateway(t, tt.ctype, tt.answer)
			url := serveGateway(t, g)
			for range 2 {
				resp := post(t, url+tt.path, tt.req)
				readAll(t, resp.Body)
			}
			evs := g.events(t)
			for _, ev := range evs {
				if ev.Status != core.StatusOK || !ev.UsageEstimated || ev.InputTokens != tt.wantIn || ev.OutputTokens != tt.wantOut {
					t.Errorf("event %+v; want ok, estimated, %d in, %d out", ev, tt.wantIn, tt.wantOut)
				}
			}
			if n := strings.Count(logs.String(), tt.wantInLog); len(evs) != 2 || n != 1 {
				t.Errorf("%d events, %d warnings saying %q; want 2 events, 1 warning (the second within its period):\n%s",
					len(evs), n, tt.wantInLog, logs.String())
			}
		})
	}
}

// TestAnswerThatIsAnErrorIsAnUpstreamError: a 200 answer that is an
// OpenAI-compatible server's error in place of the answer is recorded as
// the upstream's error, with its message, and estimated like any answer
// without usage; the client gets it as it came.
func TestAnswerThatIsAnErrorIsAnUpstreamError(t *testing.T) {
	tests := []struct {
		name, answer, wantInError string
	}{
		{"vllm", `{"object":"error","message":"boom","type":"BadRequestError","param":null,"code":400}`, "BadRequestError: boom"},
		{"openai's shape", `{"error":{"message":"boom","type":"server_error","param":null,"code":null}}`, "server_error: boom"},
		{"beside the choices", `{"id":"gen-1","error":{"code":502,"message":"Provider disconnected"},"choices":[]}`, "502: Provider disconnected"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, logs := newScriptedGateway(t, "application/json", tt.answer)
			resp := post(t, serveGateway(t, g)+chatPath, scriptChat)
			if got := string(readAll(t, resp.Body)); resp.StatusCode != http.StatusOK || got != tt.answer {
				t.Errorf("the client got %d %q, want 200 and the upstream's answer as it was", resp.StatusCode, got)
			}
			ev := g.onlyEvent(t)
			if ev.Status != core.StatusUpstreamError || ev.HTTPStatus != http.StatusOK || !strings.Contains(ev.Error, tt.wantInError) {
				t.Errorf("event %+v; want an upstream error, 200, saying %q", ev, tt.wantInError)
			}
			if !ev.UsageEstimated || ev.InputTokens != scriptPrompt || ev.TotalTokens != scriptPrompt || !strings.Contains(logs.String(), "the answer is the upstream's error") {
				t.Errorf("event %+v, log %s; want the prompt's estimate, estimated, and a warning that says the answer was an error", ev, logs.String())
			}
		})
	}
}
